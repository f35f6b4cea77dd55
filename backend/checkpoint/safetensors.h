// The safetensors file format, our own small reader and writer (no pickle; nothing in a file is
// ever executed). A file is: 8 bytes little-endian N, N bytes of JSON header, then raw tensor bytes.
// The header maps each key to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to
// the end of the header, tensors back to back in header order) plus an optional "__metadata__"
// object of string values. No LibTorch here: the CLI and the Studio use it too.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace behemoth {

// Bytes per element of a safetensors dtype name ("F32" 4, "BF16" 2, "F16" 2, "I64" 8, ...); throws
// std::invalid_argument for a name it does not know.
int safetensorsElementBytes(const std::string& dtype);

struct SafetensorsEntry {
  std::string key;
  std::string dtype;
  std::vector<std::int64_t> shape;
  std::int64_t begin = 0;  // byte offsets inside the data section
  std::int64_t end = 0;
};

// The parsed header of a file. Throws std::invalid_argument "<file>: ..." when the file is too
// short, the header is not valid JSON or not a safetensors header, an entry's offsets do not match
// its dtype and shape, entries overlap or leave gaps, or the data section is not the file's size.
class SafetensorsHeader {
 public:
  static SafetensorsHeader read(const std::filesystem::path& file);
  // The header bytes for `entries` (offsets filled in, back to back, in the given order).
  static std::string serialize(std::vector<SafetensorsEntry>& entries, const std::map<std::string, std::string>& metadata);

  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const SafetensorsEntry* find(const std::string& key) const;  // nullptr when absent
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::int64_t dataOffset() const { return data_offset_; }  // where the data section starts in the file
  std::int64_t fileBytes() const { return file_bytes_; }

 private:
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
  std::int64_t data_offset_ = 0;
  std::int64_t file_bytes_ = 0;
};

}  // namespace behemoth
