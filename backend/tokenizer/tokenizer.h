// A tokenizer turns text into token ids and back. The engine trains on ids; which tokenizer made
// them is the project's `data.tokenizer` (docs/tokenizers.md):
//   "byte"                   one token per byte, vocabulary 256 (the default)
//   a directory or a file    byte-level BPE (tokenizer.json of BPE type, or vocab.json + merges.txt,
//                            GPT-2 / LLaMA-3 style) or SentencePiece (tokenizer.model, LLaMA-2 /
//                            Mistral style)
// Torch-free: the CLI's pre-launch checks and the Studio use it too.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace behemoth {

using TokenId = std::int32_t;

// The special tokens the tokenizer's own configuration names (absent when it names none).
struct SpecialTokens {
  std::optional<TokenId> bos;
  std::optional<TokenId> eos;
  std::optional<TokenId> pad;
  std::optional<TokenId> unk;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  virtual std::string kind() const = 0;         // "byte", "bpe" or "sentencepiece"
  virtual std::int64_t vocabSize() const = 0;   // every id is in [0, vocabSize())
  // Ids of `text`, with no BOS/EOS added (the data pipeline adds them where the tokenizer says).
  virtual std::vector<TokenId> encode(std::string_view text) const = 0;
  virtual std::string decode(const std::vector<TokenId>& ids) const = 0;
  virtual SpecialTokens special() const = 0;
  // A digest of everything that decides the ids (the files' contents, not their paths or times):
  // the token cache is keyed on it, so a changed tokenizer re-tokenizes.
  virtual std::string contentKey() const = 0;
  // The files that define it, copied beside an exported model (none for "byte").
  virtual std::vector<std::filesystem::path> files() const = 0;
};

// Opens `spec` ("byte", or a path as above). Throws std::invalid_argument whose message starts
// with "data.tokenizer: " and names the path and the problem.
std::unique_ptr<const Tokenizer> openTokenizer(const std::string& spec);

}  // namespace behemoth
