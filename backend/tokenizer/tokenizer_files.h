// What the tokenizer readers share: their error form, reading a defining file, and the content key.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend/tokenizer/tokenizer.h"

namespace behemoth {

// Throws std::invalid_argument("data.tokenizer: PATH: problem").
[[noreturn]] void throwTokenizerError(const std::filesystem::path& path, const std::string& problem);

std::string readTokenizerFile(const std::filesystem::path& path);
nlohmann::json readTokenizerJson(const std::filesystem::path& path);

// xxh3 of the kind and of each file's bytes (lengths included, names not): renaming or moving the
// folder keeps the key, any changed byte changes it.
std::string tokenizerContentKey(const std::string& kind, const std::vector<std::filesystem::path>& files);

// The Tokenizer implementations, each in its own file.
std::unique_ptr<const Tokenizer> makeByteTokenizer();
std::unique_ptr<const Tokenizer> openBpeTokenizer(const std::filesystem::path& folder);
std::unique_ptr<const Tokenizer> openSentencePieceTokenizer(const std::filesystem::path& model);

}  // namespace behemoth
