// Writing files so that a crash at any instant leaves either the old file or the new one, never a
// torn one: write a temporary file, fsync it, rename it into place, fsync the folder. A checkpoint
// directory is made durable the same way (its files fsynced, then the directory renamed).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "backend/launch/unique_fd.h"

namespace behemoth {

// Flushes a file's or a directory's contents to the disk. Throws std::runtime_error naming it.
void fsyncPath(const std::filesystem::path& path);

// Replaces `path` with `text` atomically and durably.
void writeFileDurably(const std::filesystem::path& path, const std::string& text);

// A new file written front to back (creating or truncating it), then fsynced by finish().
class SequentialFileWriter {
 public:
  explicit SequentialFileWriter(const std::filesystem::path& path);
  void write(const void* data, std::size_t bytes);
  void finish();  // fsync and close
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  UniqueFd fd_;
};

}  // namespace behemoth
