// The hand-over between the serving thread and one HTTP connection: the scheduler pushes tokens
// (as text, through CompletionText) and the end; the connection waits for them and writes them
// out; a connection whose client left marks the stream abandoned, which ends the request.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "backend/serve/completion_text.h"
#include "backend/serve/generation_request.h"

namespace behemoth {

class CompletionStream : public TokenListener {
 public:
  CompletionStream(const Tokenizer& tokenizer, std::vector<std::string> stops);

  // The serving thread's side.
  bool onToken(TokenId token) override;
  void onFinish(FinishReason reason) override;
  bool cancelled() const override { return abandoned_.load(); }

  // The connection's side. Waits up to `patience` for new text or the end and takes the oldest
  // piece: each token's text is its own piece (one streamed event per token however late the
  // connection's thread wakes), and the end comes with the last one.
  struct Piece {
    std::string text;
    std::optional<FinishReason> finish;  // set once: the last piece
  };
  Piece wait(std::chrono::milliseconds patience);
  void abandon() { abandoned_.store(true); }
  int generatedTokens() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  CompletionText text_;
  std::deque<std::string> unsent_;  // text of each token not yet taken (empty texts are not kept)
  std::optional<FinishReason> finish_;
  int generated_ = 0;
  std::atomic<bool> abandoned_{false};
};

}  // namespace behemoth
