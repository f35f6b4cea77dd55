// Our safetensors reader refuses every malformed file with a line naming it, and reads back what
// the writer's header describes.
#include <gtest/gtest.h>

#include <fstream>

#include "backend/checkpoint/safetensors.h"
#include "tests/support/command.h"

namespace behemoth {
namespace {

// A file of a raw header text (its length prefixed) and `data_bytes` zero bytes.
std::string writeRaw(const TempDir& dir, const std::string& header, std::size_t data_bytes) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  bytes += header + std::string(data_bytes, '\0');
  const std::string path = dir.file("file.safetensors");
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string refusal(const std::string& path) {
  try {
    SafetensorsHeader::read(path);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

TEST(Safetensors, HeaderRoundTrips) {
  const TempDir dir;
  std::vector<SafetensorsEntry> entries = {{"a", "F32", {2, 3}, 0, 0}, {"b", "BF16", {5}, 0, 0}};
  const std::string header = SafetensorsHeader::serialize(entries, {{"step", "3"}});
  EXPECT_EQ(header.size() % 8, 0u);  // the data section stays 8-byte aligned
  const std::string path = dir.file("x.safetensors");
  std::ofstream(path, std::ios::binary) << header << std::string(24 + 10, '\0');
  const SafetensorsHeader read = SafetensorsHeader::read(path);
  ASSERT_EQ(read.entries().size(), 2u);
  EXPECT_EQ(read.find("a")->shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(read.find("b")->begin, 24);
  EXPECT_EQ(read.find("b")->end, 34);
  EXPECT_EQ(read.metadata().at("step"), "3");
  EXPECT_EQ(read.dataOffset(), static_cast<std::int64_t>(header.size()));
}

TEST(Safetensors, MalformedFilesAreRefusedNamingTheFile) {
  const TempDir dir;
  const auto refused = [&](const std::string& header, std::size_t data, const std::string& expected) {
    const std::string path = writeRaw(dir, header, data);
    const std::string error = refusal(path);
    EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << header << " -> " << error;
    EXPECT_NE(error.find(expected), std::string::npos) << header << " -> " << error;
  };
  refused(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4, "truncated");
  refused(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 12, "bytes after its last tensor");
  refused(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})", 16,
          "does not start where the previous one ends");
  refused(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12,
          "does not start where the previous one ends");
  refused(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8, "do not match its dtype and shape");
  refused(R"({"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", 8, "unknown safetensors dtype");
  refused(R"({"a":{"dtype":"F32","shape":[2]}})", 8, "no data_offsets");
  refused(R"({"a": [1, 2)", 0, "not valid JSON");
  refused(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8, "negative dimension");

  const std::string short_path = dir.file("short");
  std::ofstream(short_path, std::ios::binary) << "abc";
  EXPECT_NE(refusal(short_path).find("truncated"), std::string::npos);
  // A header length beyond the file.
  std::string huge(8, '\0');
  huge[4] = 1;
  std::ofstream(dir.file("huge"), std::ios::binary) << huge << "{}";
  EXPECT_NE(refusal(dir.file("huge")).find("header length"), std::string::npos);
  EXPECT_NE(refusal(dir.file("absent")).find("cannot be read"), std::string::npos);
}

}  // namespace
}  // namespace behemoth
