#include "backend/checkpoint/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>

namespace behemoth {

MappedFile::MappedFile(const std::filesystem::path& file, const std::string& what) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::invalid_argument(what + ": " + file.string() + ": cannot open");
  std::error_code error;
  bytes_ = static_cast<std::size_t>(std::filesystem::file_size(file, error));
  void* data = (!error && bytes_) ? ::mmap(nullptr, bytes_, PROT_READ, MAP_SHARED, fd, 0) : nullptr;
  ::close(fd);
  if (error || data == MAP_FAILED) throw std::invalid_argument(what + ": " + file.string() + ": cannot map");
  data_ = static_cast<const std::byte*>(data);
}

void MappedFile::release(const std::byte* data, std::size_t bytes) const {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<std::uintptr_t>(data) / page * page;
  const auto end = reinterpret_cast<std::uintptr_t>(data) + bytes;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<std::byte*>(data_), bytes_);
}

}  // namespace behemoth
