#include "backend/serve/completion_text.h"

#include <algorithm>

namespace behemoth {

namespace {

// Bytes at the end of `text` that start a UTF-8 character whose continuation bytes have not come yet.
std::size_t unfinishedUtf8(const std::string& text) {
  const std::size_t size = text.size();
  for (std::size_t back = 1; back <= std::min<std::size_t>(3, size); ++back) {
    const auto byte = static_cast<unsigned char>(text[size - back]);
    if ((byte & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const std::size_t length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1;
    return length > back ? back : 0;
  }
  return 0;
}

}  // namespace

CompletionText::CompletionText(const Tokenizer& tokenizer, std::vector<std::string> stops)
    : tokenizer_(tokenizer), stops_(std::move(stops)) {
  stops_.erase(std::remove(stops_.begin(), stops_.end(), std::string()), stops_.end());
}

std::size_t CompletionText::heldBack(const std::string& text) const {
  // The longest tail of the text that begins some stop string.
  std::size_t partial = 0;
  for (const std::string& stop : stops_) {
    for (std::size_t length = std::min(stop.size() - 1, text.size()); length > partial; --length) {
      if (text.compare(text.size() - length, length, stop, 0, length) == 0) {
        partial = length;
        break;
      }
    }
  }
  return std::max(partial, unfinishedUtf8(text));
}

std::string CompletionText::add(TokenId token) {
  if (stopped_) return {};
  ids_.push_back(token);
  decoded_ = tokenizer_.decode(ids_);
  // A stop string may straddle what was shown and the new text, never lie inside what was shown.
  std::size_t earliest = std::string::npos;
  for (const std::string& stop : stops_) {
    const std::size_t from = shown_.size() >= stop.size() ? shown_.size() - stop.size() + 1 : 0;
    const std::size_t at = decoded_.find(stop, from);
    if (at != std::string::npos) earliest = std::min(earliest, at);
  }
  if (earliest != std::string::npos) {
    stopped_ = true;
    const std::string piece = decoded_.substr(shown_.size(), earliest - std::min(earliest, shown_.size()));
    shown_ += piece;
    return piece;
  }
  const std::size_t ready = decoded_.size() - heldBack(decoded_);
  if (ready <= shown_.size()) return {};
  const std::string piece = decoded_.substr(shown_.size(), ready - shown_.size());
  shown_ += piece;
  return piece;
}

std::string CompletionText::flush() {
  if (stopped_ || decoded_.size() <= shown_.size()) return {};
  const std::string piece = decoded_.substr(shown_.size());
  shown_ += piece;
  return piece;
}

}  // namespace behemoth
