// Turns a request's generated tokens into the text its client sees, piece by piece. A stop string
// ends the text just before it; what might still become a stop string, or is an unfinished UTF-8
// character, waits for the next token so that no client ever sees half of either.
#pragma once

#include <string>
#include <vector>

#include "backend/tokenizer/tokenizer.h"

namespace behemoth {

class CompletionText {
 public:
  // `tokenizer` must outlive this.
  CompletionText(const Tokenizer& tokenizer, std::vector<std::string> stops);

  // Adds the next generated token; returns the text that can be shown now (often empty).
  std::string add(TokenId token);
  // True once a stop string appeared: the text is final and further tokens are ignored.
  bool stopped() const { return stopped_; }
  // The end of generation: everything held back.
  std::string flush();
  // Everything shown so far.
  const std::string& shown() const { return shown_; }

 private:
  std::size_t heldBack(const std::string& text) const;

  const Tokenizer& tokenizer_;
  std::vector<std::string> stops_;
  std::vector<TokenId> ids_;
  std::string decoded_;
  std::string shown_;
  bool stopped_ = false;
};

}  // namespace behemoth
