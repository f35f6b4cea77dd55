#include "backend/serve/completion_stream.h"

namespace behemoth {

CompletionStream::CompletionStream(const Tokenizer& tokenizer, std::vector<std::string> stops)
    : text_(tokenizer, std::move(stops)) {}

bool CompletionStream::onToken(TokenId token) {
  bool go_on = true;
  {
    const std::lock_guard lock(mutex_);
    std::string piece = text_.add(token);
    if (!piece.empty()) unsent_.push_back(std::move(piece));
    ++generated_;
    go_on = !text_.stopped();
  }
  changed_.notify_all();
  return go_on;
}

void CompletionStream::onFinish(FinishReason reason) {
  {
    const std::lock_guard lock(mutex_);
    std::string rest = text_.flush();
    if (!rest.empty()) unsent_.push_back(std::move(rest));
    finish_ = text_.stopped() ? FinishReason::stop : reason;
  }
  changed_.notify_all();
}

CompletionStream::Piece CompletionStream::wait(std::chrono::milliseconds patience) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, patience, [this] { return !unsent_.empty() || finish_.has_value(); });
  Piece piece;
  if (!unsent_.empty()) {
    piece.text = std::move(unsent_.front());
    unsent_.pop_front();
  }
  if (unsent_.empty()) piece.finish = finish_;
  return piece;
}

int CompletionStream::generatedTokens() const {
  const std::lock_guard lock(mutex_);
  return generated_;
}

}  // namespace behemoth
