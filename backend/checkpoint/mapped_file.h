// A read-only memory mapping of a whole file, unmapped when it goes. Readers of checkpoints and of
// Hugging Face weights map their files so that a process touches only the pages it reads.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

namespace behemoth {

class MappedFile {
 public:
  // Throws std::invalid_argument "<what>: <file>: cannot open|cannot map".
  MappedFile(const std::filesystem::path& file, const std::string& what);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  // Drops the resident pages of [data, data + bytes) (read again from the file if touched again),
  // so a reader that walks a large file keeps only what it is working on in memory.
  void release(const std::byte* data, std::size_t bytes) const;
  std::size_t bytes() const { return bytes_; }

 private:
  const std::byte* data_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace behemoth
