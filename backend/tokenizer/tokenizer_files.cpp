#include "backend/tokenizer/tokenizer_files.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "backend/checkpoint/checksum.h"

namespace behemoth {

void throwTokenizerError(const std::filesystem::path& path, const std::string& problem) {
  throw std::invalid_argument("data.tokenizer: " + path.string() + ": " + problem);
}

std::string readTokenizerFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throwTokenizerError(path, "cannot be read");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throwTokenizerError(path, "cannot be read");
  return bytes.str();
}

nlohmann::json readTokenizerJson(const std::filesystem::path& path) {
  try {
    return nlohmann::json::parse(readTokenizerFile(path));
  } catch (const nlohmann::json::parse_error& error) {
    throwTokenizerError(path, std::string("malformed JSON (") + error.what() + ")");
  }
}

std::string tokenizerContentKey(const std::string& kind, const std::vector<std::filesystem::path>& files) {
  StreamingChecksum checksum;
  checksum.update(kind.data(), kind.size());
  for (const std::filesystem::path& file : files) {
    const std::string bytes = readTokenizerFile(file);
    const std::uint64_t length = bytes.size();
    checksum.update(&length, sizeof length);
    checksum.update(bytes.data(), bytes.size());
  }
  return kind + ":" + checksum.text();
}

}  // namespace behemoth
