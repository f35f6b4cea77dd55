// Hugging Face's special-token configuration beside a tokenizer: tokenizer_config.json
// ("bos_token": "<s>" or {"content": "<s>", ...}, "added_tokens_decoder") and
// special_tokens_map.json. tokenizer_config.json wins where both name a token.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "backend/tokenizer/tokenizer.h"

namespace behemoth {

struct NamedSpecialTokens {
  // The text of each token; a key present with null names "none" (so nothing falls back).
  struct Name {
    bool given = false;
    std::optional<std::string> text;
    std::filesystem::path file;  // that named it, for errors
    std::string key;             // "bos_token", ...
  };
  Name bos, eos, pad, unk;
  // added_tokens_decoder entries of tokenizer_config.json (id -> text).
  std::vector<std::pair<TokenId, std::string>> added;
  std::vector<std::filesystem::path> files;  // the configuration files found
};

NamedSpecialTokens readSpecialTokenConfig(const std::filesystem::path& folder);

}  // namespace behemoth
