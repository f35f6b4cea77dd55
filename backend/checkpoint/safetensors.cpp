#include "backend/checkpoint/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <fstream>
#include <limits>
#include <stdexcept>

namespace behemoth {
namespace {

using nlohmann::json;

// Headers beyond this are not ours (a checkpoint file's header is a few KB per tensor).
constexpr std::int64_t kMaxHeaderBytes = std::int64_t{256} << 20;

[[noreturn]] void refuse(const std::filesystem::path& file, const std::string& problem) {
  throw std::invalid_argument(file.string() + ": " + problem);
}

std::int64_t numelOf(const std::vector<std::int64_t>& shape, const std::filesystem::path& file, const std::string& key) {
  std::int64_t numel = 1;
  for (const std::int64_t size : shape) {
    if (size < 0) refuse(file, "tensor " + key + " has a negative dimension");
    if (size != 0 && numel > std::numeric_limits<std::int64_t>::max() / size) refuse(file, "tensor " + key + " is too large");
    numel *= size;
  }
  return numel;
}

SafetensorsEntry parseEntry(const std::string& key, const json& value, const std::filesystem::path& file) {
  if (!value.is_object()) refuse(file, "header entry " + key + " is not an object (not a safetensors file?)");
  SafetensorsEntry entry;
  entry.key = key;
  const auto dtype = value.find("dtype");
  const auto shape = value.find("shape");
  const auto offsets = value.find("data_offsets");
  if (dtype == value.end() || !dtype->is_string()) refuse(file, "tensor " + key + " has no dtype");
  if (shape == value.end() || !shape->is_array()) refuse(file, "tensor " + key + " has no shape");
  if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2) refuse(file, "tensor " + key + " has no data_offsets");
  entry.dtype = dtype->get<std::string>();
  for (const json& size : *shape) {
    if (!size.is_number_integer()) refuse(file, "tensor " + key + " has a shape that is not integers");
    entry.shape.push_back(size.get<std::int64_t>());
  }
  for (const json& offset : *offsets) {
    if (!offset.is_number_unsigned()) refuse(file, "tensor " + key + " has data_offsets that are not non-negative integers");
  }
  entry.begin = (*offsets)[0].get<std::int64_t>();
  entry.end = (*offsets)[1].get<std::int64_t>();
  int element_bytes = 0;
  try {
    element_bytes = safetensorsElementBytes(entry.dtype);
  } catch (const std::invalid_argument& error) {
    refuse(file, "tensor " + key + ": " + error.what());
  }
  const std::int64_t numel = numelOf(entry.shape, file, key);
  if (numel > std::numeric_limits<std::int64_t>::max() / element_bytes || entry.end < entry.begin ||
      entry.end - entry.begin != numel * element_bytes) {
    refuse(file, "tensor " + key + ": data_offsets do not match its dtype and shape");
  }
  return entry;
}

}  // namespace

int safetensorsElementBytes(const std::string& dtype) {
  static const std::array<std::pair<const char*, int>, 12> sizes = {{{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2},
                                                                     {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
                                                                     {"U8", 1}, {"BOOL", 1}, {"U16", 2}, {"U32", 4}}};
  for (const auto& [name, bytes] : sizes) {
    if (dtype == name) return bytes;
  }
  throw std::invalid_argument("unknown safetensors dtype \"" + dtype + "\"");
}

const SafetensorsEntry* SafetensorsHeader::find(const std::string& key) const {
  for (const auto& entry : entries_) {
    if (entry.key == key) return &entry;
  }
  return nullptr;
}

std::string SafetensorsHeader::serialize(std::vector<SafetensorsEntry>& entries,
                                         const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::int64_t offset = 0;
  for (auto& entry : entries) {
    const std::int64_t bytes = numelOf(entry.shape, "safetensors", entry.key) * safetensorsElementBytes(entry.dtype);
    entry.begin = offset;
    entry.end = offset + bytes;
    offset = entry.end;
    header[entry.key] = {{"dtype", entry.dtype}, {"shape", entry.shape}, {"data_offsets", {entry.begin, entry.end}}};
  }
  std::string text = header.dump();
  // Padding with spaces keeps the data section 8-byte aligned (the format allows trailing spaces).
  while ((text.size() + 8) % 8 != 0) text.push_back(' ');
  std::string bytes(8, '\0');
  std::uint64_t length = text.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  return bytes + text;
}

SafetensorsHeader SafetensorsHeader::read(const std::filesystem::path& file) {
  std::error_code error;
  const auto file_bytes = std::filesystem::file_size(file, error);
  if (error) refuse(file, "cannot be read (" + error.message() + ")");
  std::ifstream in(file, std::ios::binary);
  if (!in) refuse(file, "cannot be opened");
  if (file_bytes < 8) refuse(file, "is truncated: " + std::to_string(file_bytes) + " bytes, not even a header length");
  unsigned char length_bytes[8];
  in.read(reinterpret_cast<char*>(length_bytes), 8);
  std::uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | length_bytes[i];
  if (length > static_cast<std::uint64_t>(kMaxHeaderBytes) || length > file_bytes - 8) {
    refuse(file, "is truncated or not a safetensors file (header length " + std::to_string(length) + " for a file of " +
                     std::to_string(file_bytes) + " bytes)");
  }
  std::string text(length, '\0');
  in.read(text.data(), static_cast<std::streamsize>(length));
  if (!in) refuse(file, "cannot read its header");
  const json header = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) refuse(file, "its header is not valid JSON (corrupted?)");

  SafetensorsHeader result;
  result.data_offset_ = static_cast<std::int64_t>(8 + length);
  result.file_bytes_ = static_cast<std::int64_t>(file_bytes);
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) refuse(file, "__metadata__ is not an object");
      for (const auto& [name, text_value] : value.items()) {
        if (!text_value.is_string()) refuse(file, "__metadata__." + name + " is not a string");
        result.metadata_[name] = text_value.get<std::string>();
      }
      continue;
    }
    result.entries_.push_back(parseEntry(key, value, file));
  }
  // Tensors must tile the data section: back to back from 0 to its end, no overlap, no gap.
  std::vector<SafetensorsEntry> by_offset = result.entries_;
  std::sort(by_offset.begin(), by_offset.end(), [](const auto& a, const auto& b) { return a.begin < b.begin; });
  std::int64_t expected = 0;
  for (const auto& entry : by_offset) {
    if (entry.begin != expected) refuse(file, "tensor " + entry.key + " does not start where the previous one ends");
    expected = entry.end;
  }
  const std::int64_t data_bytes = result.file_bytes_ - result.data_offset_;
  if (expected != data_bytes) {
    refuse(file, expected > data_bytes ? "is truncated: its header describes " + std::to_string(expected) +
                                             " data bytes, the file holds " + std::to_string(data_bytes)
                                       : "has " + std::to_string(data_bytes - expected) + " bytes after its last tensor");
  }
  // Keep the file's data order (the order pieces were written in).
  result.entries_ = std::move(by_offset);
  return result;
}

}  // namespace behemoth
