#include "backend/checkpoint/durable_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace behemoth {
namespace fs = std::filesystem;
namespace {

[[noreturn]] void fail(const fs::path& path, const char* what) {
  throw std::runtime_error(path.string() + ": cannot " + what + " (" + std::strerror(errno) + ")");
}

}  // namespace

void fsyncPath(const fs::path& path) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) fail(path, "open for fsync");
  if (::fsync(fd.get()) != 0) fail(path, "fsync");
}

SequentialFileWriter::SequentialFileWriter(const fs::path& path)
    : path_(path), fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) {
  if (!fd_.valid()) fail(path_, "create");
}

void SequentialFileWriter::write(const void* data, std::size_t bytes) {
  const auto* cursor = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t written = ::write(fd_.get(), cursor, bytes);
    if (written < 0) {
      if (errno == EINTR) continue;
      fail(path_, "write");
    }
    cursor += written;
    bytes -= static_cast<std::size_t>(written);
  }
}

void SequentialFileWriter::finish() {
  if (::fsync(fd_.get()) != 0) fail(path_, "fsync");
  if (::close(fd_.release()) != 0) fail(path_, "close");
}

void writeFileDurably(const fs::path& path, const std::string& text) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  const fs::path temporary = path.string() + ".tmp." + std::to_string(::getpid());
  try {
    SequentialFileWriter writer(temporary);
    writer.write(text.data(), text.size());
    writer.finish();
    fs::rename(temporary, path);
  } catch (...) {
    std::error_code ignored;
    fs::remove(temporary, ignored);  // never leave a half-written temporary beside the file
    throw;
  }
  fsyncPath(path.has_parent_path() ? path.parent_path() : fs::path("."));
}

}  // namespace behemoth
