#include "memory/disk_tier.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

namespace behemoth {
namespace {

std::string mib(std::int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

// The process id keeps two runs that share an offload_dir (and their ranks) out of each other's files.
std::string fileName(int rank) {
  char name[64];
  std::snprintf(name, sizeof name, "behemoth-rank-%05d-pid%d.optim", rank, static_cast<int>(::getpid()));
  return name;
}

}  // namespace

DiskTier::DiskTier(const std::filesystem::path& directory, int rank, std::int64_t bytes)
    : path_(directory / fileName(rank)), bytes_(bytes) {
  const std::string where = "parallel.offload_dir: " + directory.string();
  std::error_code error;
  if (!std::filesystem::is_directory(directory, error)) throw std::runtime_error(where + " is not a directory");
  struct statvfs space {};
  if (::statvfs(directory.c_str(), &space) == 0) {
    const auto free_bytes = static_cast<std::int64_t>(space.f_bavail) * static_cast<std::int64_t>(space.f_frsize);
    if (free_bytes < bytes) {
      throw std::runtime_error(where + " has " + mib(free_bytes) + " free; rank " + std::to_string(rank) +
                               "'s disk tier needs " + mib(bytes));
    }
  }
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0) throw std::runtime_error(where + ": cannot create " + path_.string() + ": " + std::strerror(errno));
  if (bytes_ > 0) {
    // posix_fallocate reserves the blocks now, so a full disk fails here and not mid-step.
    const int reserved = ::posix_fallocate(fd_, 0, static_cast<off_t>(bytes_));
    if (reserved != 0) {
      ::close(fd_);
      ::unlink(path_.c_str());
      throw std::runtime_error(where + ": cannot reserve " + mib(bytes_) + " in " + path_.string() + ": " +
                               std::strerror(reserved));
    }
    mapping_ = ::mmap(nullptr, static_cast<std::size_t>(bytes_), PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (mapping_ == MAP_FAILED) {
      const int code = errno;
      mapping_ = nullptr;
      ::close(fd_);
      ::unlink(path_.c_str());
      throw std::runtime_error(where + ": cannot map " + path_.string() + ": " + std::strerror(code));
    }
  }
}

DiskTier::~DiskTier() {
  if (mapping_ != nullptr) ::munmap(mapping_, static_cast<std::size_t>(bytes_));
  if (fd_ >= 0) ::close(fd_);
  ::unlink(path_.c_str());
}

at::Tensor DiskTier::floats(std::int64_t offset, std::int64_t numel) const {
  if (offset < 0 || numel < 0 || (offset + numel) * 4 > bytes_) {
    throw std::out_of_range("disk tier: elements [" + std::to_string(offset) + ", " + std::to_string(offset + numel) +
                            ") are outside " + path_.string());
  }
  if (numel == 0) return at::empty({0}, at::kFloat);
  float* base = static_cast<float*>(mapping_) + offset;
  return at::from_blob(base, {numel}, at::TensorOptions().dtype(at::kFloat));
}

}  // namespace behemoth
