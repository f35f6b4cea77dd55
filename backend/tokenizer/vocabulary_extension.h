// Adding tokens to a tokenizer, as Colossal-LLaMA-2 does for a new language or domain: each new
// token gets the next id after the existing vocabulary and is always cut out of a text whole.
//   SentencePiece tokenizer.model: USER_DEFINED pieces appended to the model's piece list
//   BPE tokenizer.json: entries appended to "added_tokens"
//   BPE vocab.json + merges.txt: entries in added_tokens.json
// The model's embedding and head grow to match in backend/hf/vocabulary_growth.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace behemoth {

struct TokenizerExtension {
  std::vector<std::pair<std::string, std::string>> files;  // the changed files: name, contents
  std::vector<std::string> added;                          // in id order, from old_size
  std::vector<std::string> already_present;                // tokens the tokenizer already has whole
  std::int64_t old_size = 0;
  std::int64_t new_size = 0;
};

// Throws std::invalid_argument naming the folder for the byte tokenizer (nothing to extend) or a
// tokenizer it cannot open.
TokenizerExtension extendTokenizer(const std::filesystem::path& folder, const std::vector<std::string>& tokens);

// The tokens of a file, one per line (a trailing "\r" dropped, blank lines skipped).
std::vector<std::string> readTokenList(const std::filesystem::path& file);

// SentencePiece's ModelProto with USER_DEFINED pieces appended: protobuf concatenates repeated
// fields, so the new entries of field 1 (pieces) go at the end of the serialized model.
std::string appendSentencePieces(std::string model_bytes, const std::vector<std::string>& pieces);

}  // namespace behemoth
