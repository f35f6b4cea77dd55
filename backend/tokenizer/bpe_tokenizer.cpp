#include "backend/tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <array>
#include <limits>
#include <stdexcept>
#include <unordered_map>

#include "backend/tokenizer/byte_level.h"
#include "backend/tokenizer/tokenizer_files.h"

namespace behemoth {

namespace {

struct MergeResult {
  int rank = 0;
  TokenId merged = 0;
};

std::uint64_t pairKey(TokenId left, TokenId right) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) | static_cast<std::uint32_t>(right);
}

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(BpeDefinition definition) : definition_(std::move(definition)) {
    TokenId largest = -1;
    for (const auto& [text, id] : definition_.vocab) {
      if (id < 0)
        throwTokenizerError(definition_.vocab_file, "token '" + text + "' has negative id " + std::to_string(id));
      token_ids_.emplace(text, id);
      largest = std::max(largest, id);
    }
    for (const BpeDefinition::AddedToken& token : definition_.added) {
      if (token.content.empty()) throwTokenizerError(definition_.files.front(), "an added token is empty");
      if (token.id < 0)
        throwTokenizerError(definition_.files.front(), "added token '" + token.content + "' has a negative id");
      largest = std::max(largest, token.id);
    }
    vocab_size_ = largest + 1;
    decoded_.assign(static_cast<std::size_t>(vocab_size_), std::nullopt);
    for (const auto& [text, id] : definition_.vocab) decoded_[id] = fromByteLevel(text).value_or(text);
    for (const BpeDefinition::AddedToken& token : definition_.added) {
      decoded_[token.id] = token.content;
      added_by_first_byte_[static_cast<unsigned char>(token.content[0])].push_back(&token);
    }
    for (auto& candidates : added_by_first_byte_) {  // longest first: the longest match wins
      std::stable_sort(candidates.begin(), candidates.end(),
                       [](const auto* a, const auto* b) { return a->content.size() > b->content.size(); });
    }
    for (int byte = 0; byte < 256; ++byte) {
      const std::string text = toByteLevel(std::string(1, static_cast<char>(byte)));
      const auto found = token_ids_.find(text);
      if (found == token_ids_.end()) {
        throwTokenizerError(definition_.vocab_file, "the vocabulary has no token for byte " + std::to_string(byte) +
                                                        " ('" + text + "'), so some text could not be encoded");
      }
      byte_token_[byte] = found->second;
    }
    const auto idOf = [&](const BpeDefinition::Merge& merge, const std::string& text) {
      const auto found = token_ids_.find(text);
      if (found == token_ids_.end()) {
        throwTokenizerError(definition_.merges_file, merge.where + ": merge '" + merge.left + " " + merge.right +
                                                         "' names '" + text + "', which is not in the vocabulary");
      }
      return found->second;
    };
    for (std::size_t rank = 0; rank < definition_.merges.size(); ++rank) {
      const BpeDefinition::Merge& merge = definition_.merges[rank];
      const TokenId left = idOf(merge, merge.left);
      const TokenId right = idOf(merge, merge.right);
      const TokenId merged = idOf(merge, merge.left + merge.right);
      merges_.emplace(pairKey(left, right), MergeResult{static_cast<int>(rank), merged});  // first (lowest) rank wins
    }
    content_key_ = tokenizerContentKey("bpe", definition_.files);
  }

  std::string kind() const override { return "bpe"; }
  std::int64_t vocabSize() const override { return vocab_size_; }

  std::vector<TokenId> encode(std::string_view text) const override {
    std::vector<TokenId> ids;
    ids.reserve(text.size() / 3);
    std::unordered_map<std::string_view, std::vector<TokenId>> cache;  // a piece's ids, per call
    const auto encodePiece = [&](std::string_view piece) {
      auto [entry, fresh] = cache.try_emplace(piece);
      if (fresh) entry->second = mergePiece(piece);
      ids.insert(ids.end(), entry->second.begin(), entry->second.end());
    };
    const auto encodePlain = [&](std::string_view plain) {
      if (plain.empty()) return;
      if (definition_.add_prefix_space && plain.front() != ' ') {
        // Rare (GPT-2 files set it false): the prefixed copy must outlive the cache's views.
        const std::string prefixed = " " + std::string(plain);
        pretokenize(prefixed, definition_.pattern, [&](std::string_view piece) {
          const std::vector<TokenId> piece_ids = mergePiece(piece);
          ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
        });
        return;
      }
      pretokenize(plain, definition_.pattern, encodePiece);
    };
    std::size_t plain_start = 0;
    for (std::size_t offset = 0; offset < text.size();) {
      const BpeDefinition::AddedToken* match = addedTokenAt(text, offset);
      if (match == nullptr) {
        ++offset;
        continue;
      }
      encodePlain(text.substr(plain_start, offset - plain_start));
      ids.push_back(match->id);
      offset += match->content.size();
      plain_start = offset;
    }
    encodePlain(text.substr(plain_start));
    return ids;
  }

  std::string decode(const std::vector<TokenId>& ids) const override {
    std::string text;
    for (const TokenId id : ids) {
      if (id < 0 || id >= vocab_size_ || !decoded_[id]) {
        throw std::invalid_argument("bpe tokenizer: id " + std::to_string(id) + " is not in the vocabulary");
      }
      text += *decoded_[id];
    }
    return text;
  }

  SpecialTokens special() const override { return definition_.special; }
  std::string contentKey() const override { return content_key_; }
  std::vector<std::filesystem::path> files() const override { return definition_.files; }

 private:
  const BpeDefinition::AddedToken* addedTokenAt(std::string_view text, std::size_t offset) const {
    for (const BpeDefinition::AddedToken* token : added_by_first_byte_[static_cast<unsigned char>(text[offset])]) {
      if (text.compare(offset, token->content.size(), token->content) == 0) return token;
    }
    return nullptr;
  }

  std::vector<TokenId> mergePiece(std::string_view piece) const {
    if (definition_.ignore_merges) {
      const auto whole = token_ids_.find(toByteLevel(piece));
      if (whole != token_ids_.end()) return {whole->second};
    }
    std::vector<TokenId> symbols;
    symbols.reserve(piece.size());
    for (const char byte : piece) symbols.push_back(byte_token_[static_cast<unsigned char>(byte)]);
    while (symbols.size() > 1) {
      int best_rank = std::numeric_limits<int>::max();
      std::size_t best_at = 0;
      TokenId best_merged = 0;
      for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
        const auto found = merges_.find(pairKey(symbols[i], symbols[i + 1]));
        if (found != merges_.end() && found->second.rank < best_rank) {
          best_rank = found->second.rank;
          best_at = i;
          best_merged = found->second.merged;
        }
      }
      if (best_rank == std::numeric_limits<int>::max()) break;
      symbols[best_at] = best_merged;
      symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best_at) + 1);
    }
    return symbols;
  }

  BpeDefinition definition_;
  std::unordered_map<std::string, TokenId> token_ids_;
  std::unordered_map<std::uint64_t, MergeResult> merges_;
  std::array<TokenId, 256> byte_token_{};
  std::array<std::vector<const BpeDefinition::AddedToken*>, 256> added_by_first_byte_;
  std::vector<std::optional<std::string>> decoded_;  // the bytes each id stands for
  std::int64_t vocab_size_ = 0;
  std::string content_key_;
};

}  // namespace

std::unique_ptr<const Tokenizer> makeBpeTokenizer(BpeDefinition definition) {
  return std::make_unique<BpeTokenizer>(std::move(definition));
}

}  // namespace behemoth
