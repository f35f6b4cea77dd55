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
  std::size_t bytes() const { return bytes_; }

 private:
  const std::byte* data_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace behemoth
