// Byte-level BPE (GPT-2, LLaMA-3): the text is split on added tokens, pre-tokenized, each piece
// written in the byte-level alphabet, then merged pair by pair, lowest merge rank first (leftmost
// among equals), as Hugging Face's tokenizers does.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "backend/tokenizer/pretokenizer.h"
#include "backend/tokenizer/tokenizer.h"

namespace behemoth {

struct BpeDefinition {
  struct Merge {
    std::string left, right;
    std::string where;  // "line 7" / "model.merges[5]", for errors
  };
  struct AddedToken {
    std::string content;  // matched verbatim in the text before pre-tokenization
    TokenId id = 0;
  };

  std::vector<std::pair<std::string, TokenId>> vocab;  // byte-level token text -> id
  std::filesystem::path vocab_file;                    // for errors
  std::vector<Merge> merges;                           // by rank
  std::filesystem::path merges_file;
  std::vector<AddedToken> added;
  PretokenizerPattern pattern = PretokenizerPattern::kGpt2;
  bool add_prefix_space = false;
  bool ignore_merges = false;  // LLaMA-3: a piece that is a whole vocabulary entry is not merged
  SpecialTokens special;
  std::vector<std::filesystem::path> files;  // the defining files, the first one named in errors
};

// Checks the definition (every merge names known tokens and makes one, every byte has a token);
// throws the data.tokenizer error naming the file otherwise.
std::unique_ptr<const Tokenizer> makeBpeTokenizer(BpeDefinition definition);

}  // namespace behemoth
