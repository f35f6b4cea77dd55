// A request to generate: the prompt's tokens, how many to add and how to choose them, and the
// listener that receives each token as it is made (the HTTP connection, or a test).
#pragma once

#include <memory>
#include <vector>

#include "backend/serve/sampling.h"
#include "backend/tokenizer/tokenizer.h"

namespace behemoth {

enum class FinishReason { length, stop, cancelled };
const char* finishReasonName(FinishReason reason);  // "length", "stop", "cancelled"

// Called on the serving thread. Implementations hand tokens to another thread (the connection's).
class TokenListener {
 public:
  virtual ~TokenListener() = default;
  // The next generated token. Returns false to end the request here (a stop string matched).
  virtual bool onToken(TokenId token) = 0;
  // Called exactly once, last.
  virtual void onFinish(FinishReason reason) = 0;
  // True once the client is gone: the request ends and frees its blocks at the next step.
  virtual bool cancelled() const = 0;
};

struct GenerationRequest {
  std::vector<TokenId> prompt;  // at least one token
  int max_tokens = 16;
  SamplingParams sampling;
  std::shared_ptr<TokenListener> listener;
};

}  // namespace behemoth
