// SentencePiece tokenizer.model (LLaMA-2, Mistral, and `behemoth tokenizer train`), through the
// module. Special tokens are the model's own unless a tokenizer_config.json /
// special_tokens_map.json beside it names others.
#include <algorithm>
#include <memory>
#include <stdexcept>

#include "backend/tokenizer/special_tokens_config.h"
#include "backend/tokenizer/spm_module.h"
#include "backend/tokenizer/tokenizer_files.h"

namespace behemoth {

namespace {

namespace fs = std::filesystem;

struct ProcessorCloser {
  const BehemothSpmApi* api;
  void operator()(void* processor) const { api->close(processor); }
};

class SentencePieceTokenizer final : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const fs::path& model)
      : api_(loadModule(model)), processor_(nullptr, ProcessorCloser{&api_}) {
    const std::string bytes = readTokenizerFile(model);
    SpmBytes error;
    processor_.reset(api_.open(bytes.data(), bytes.size(), &SpmBytes::sink, &error));
    if (!processor_) throwTokenizerError(model, "is not a SentencePiece model (" + error.bytes + ")");
    const std::int32_t count = api_.piece_count(processor_.get());
    pieces_.reserve(static_cast<std::size_t>(count));
    for (std::int32_t id = 0; id < count; ++id) {
      SpmBytes piece;
      api_.piece(processor_.get(), id, &SpmBytes::sink, &piece);
      pieces_.push_back(std::move(piece.bytes));
    }
    const NamedSpecialTokens names = readSpecialTokenConfig(model.parent_path());
    special_.bos = resolve(names.bos, kBehemothSpmBos);
    special_.eos = resolve(names.eos, kBehemothSpmEos);
    special_.pad = resolve(names.pad, kBehemothSpmPad);
    special_.unk = resolve(names.unk, kBehemothSpmUnk);
    files_.push_back(model);
    files_.insert(files_.end(), names.files.begin(), names.files.end());
    content_key_ = tokenizerContentKey("sentencepiece", files_);
    chooseLineByLine();
  }

  std::string kind() const override { return "sentencepiece"; }
  std::int64_t vocabSize() const override { return static_cast<std::int64_t>(pieces_.size()); }

  std::vector<TokenId> encode(std::string_view text) const override {
    if (!newline_prefix_) return encodeWhole(text);
    // Line by line: a newline starts each later chunk, and the dummy-prefix "▁" the library puts
    // before that chunk (before its newline, where no piece reaches) is dropped again.
    std::vector<TokenId> ids;
    std::size_t start = 0;
    while (start < text.size()) {
      std::size_t end = text.find('\n', start + 1);
      if (end == std::string_view::npos) end = text.size();
      std::vector<TokenId> chunk = encodeWhole(text.substr(start, end - start));
      const std::size_t drop = start == 0 ? 0 : newline_prefix_->size();
      if (chunk.size() < drop ||
          !std::equal(chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(drop), newline_prefix_->begin())) {
        throw std::logic_error("sentencepiece tokenizer: a chunk did not start with the dummy prefix");
      }
      ids.insert(ids.end(), chunk.begin() + static_cast<std::ptrdiff_t>(drop), chunk.end());
      start = end;
    }
    return ids;
  }

  std::string decode(const std::vector<TokenId>& ids) const override {
    for (const TokenId id : ids) {
      if (id < 0 || id >= vocabSize()) {
        throw std::invalid_argument("sentencepiece tokenizer: id " + std::to_string(id) + " is not in the vocabulary");
      }
    }
    SpmBytes text, error;
    if (api_.decode(processor_.get(), ids.data(), ids.size(), &SpmBytes::sink, &text, &SpmBytes::sink, &error) != 0) {
      throw std::runtime_error("sentencepiece tokenizer: decoding failed: " + error.bytes);
    }
    return text.bytes;
  }

  SpecialTokens special() const override { return special_; }
  std::string contentKey() const override { return content_key_; }
  std::vector<fs::path> files() const override { return files_; }

 private:
  std::vector<TokenId> encodeWhole(std::string_view text) const {
    std::vector<TokenId> ids;
    SpmBytes error;
    const auto sink = [](void* context, const std::int32_t* data, size_t count) {
      static_cast<std::vector<TokenId>*>(context)->assign(data, data + count);
    };
    if (api_.encode(processor_.get(), text.data(), text.size(), sink, &ids, &SpmBytes::sink, &error) != 0) {
      throw std::runtime_error("sentencepiece tokenizer: encoding failed: " + error.bytes);
    }
    return ids;
  }

  // SentencePiece's encoding of one long text is several times slower than of its lines, so
  // encode() goes line by line where that cannot change the ids: no piece holds a newline, a
  // newline is its byte token (byte fallback, no normalization touching it), and a probe of
  // spaces and newlines encodes the same both ways. Then the pieces on either side of a newline
  // never merge, and a chunk starting with a newline encodes as in the whole text, after the
  // dummy prefix (what encode("\n") gives before the newline's token).
  void chooseLineByLine() {
    for (const std::string& piece : pieces_) {
      if (piece.find('\n') != std::string::npos) return;
    }
    std::vector<TokenId> prefix = encodeWhole("\n");
    const auto newline = std::find(pieces_.begin(), pieces_.end(), "<0x0A>");
    if (prefix.empty() || newline == pieces_.end() || prefix.back() != newline - pieces_.begin() || prefix.size() > 2)
      return;
    prefix.pop_back();
    newline_prefix_ = prefix;
    const std::string probe = " a  \n\n b\n  c \n\n\nd\te  \n";
    try {
      if (encode(probe) != encodeWhole(probe)) newline_prefix_.reset();
    } catch (const std::logic_error&) {
      newline_prefix_.reset();
    }
  }

  static const BehemothSpmApi& loadModule(const fs::path& model) {
    try {
      return sentencePieceModule();
    } catch (const std::runtime_error& error) {
      throwTokenizerError(model, error.what());
    }
  }

  std::optional<TokenId> resolve(const NamedSpecialTokens::Name& name, int which) const {
    if (!name.given) {
      const std::int32_t id = api_.special_id(processor_.get(), which);
      return id >= 0 ? std::optional<TokenId>(id) : std::nullopt;
    }
    if (!name.text) return std::nullopt;
    for (std::size_t id = 0; id < pieces_.size(); ++id) {
      if (pieces_[id] == *name.text) return static_cast<TokenId>(id);
    }
    throwTokenizerError(name.file, name.key + " '" + *name.text + "' is not a piece of the SentencePiece model");
  }

  const BehemothSpmApi& api_;
  std::unique_ptr<void, ProcessorCloser> processor_;
  std::vector<std::string> pieces_;
  SpecialTokens special_;
  std::vector<fs::path> files_;
  std::string content_key_;
  std::optional<std::vector<TokenId>>
      newline_prefix_;  // set: encode line by line, dropping this before each later line
};

}  // namespace

std::unique_ptr<const Tokenizer> openSentencePieceTokenizer(const fs::path& model) {
  return std::make_unique<SentencePieceTokenizer>(model);
}

}  // namespace behemoth
