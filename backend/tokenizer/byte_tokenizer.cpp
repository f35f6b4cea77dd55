// The byte tokenizer: token id = byte value. What the engine trained on before real tokenizers,
// and still the default, so every existing project and result keeps its meaning.
#include <stdexcept>

#include "backend/tokenizer/tokenizer_files.h"

namespace behemoth {

namespace {

class ByteTokenizer final : public Tokenizer {
 public:
  std::string kind() const override { return "byte"; }
  std::int64_t vocabSize() const override { return 256; }
  std::vector<TokenId> encode(std::string_view text) const override {
    std::vector<TokenId> ids;
    ids.reserve(text.size());
    for (const char c : text) ids.push_back(static_cast<unsigned char>(c));
    return ids;
  }
  std::string decode(const std::vector<TokenId>& ids) const override {
    std::string text;
    text.reserve(ids.size());
    for (const TokenId id : ids) {
      if (id < 0 || id > 255) throw std::invalid_argument("byte tokenizer: id " + std::to_string(id) + " is not a byte");
      text.push_back(static_cast<char>(id));
    }
    return text;
  }
  SpecialTokens special() const override { return {}; }
  std::string contentKey() const override { return "byte"; }
  std::vector<std::filesystem::path> files() const override { return {}; }
};

}  // namespace

std::unique_ptr<const Tokenizer> makeByteTokenizer() { return std::make_unique<ByteTokenizer>(); }

}  // namespace behemoth
