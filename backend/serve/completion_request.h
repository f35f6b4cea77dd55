// The body of `POST /v1/completions`, in the shape OpenAI-compatible clients send, read strictly:
// malformed JSON, an unknown field or a value out of range is refused with a one-line message that
// names the field, before the request reaches the scheduler.
#pragma once

#include <string>
#include <vector>

#include "backend/serve/sampling.h"

namespace behemoth {

struct CompletionRequest {
  std::string prompt;
  int max_tokens = 16;
  SamplingParams sampling;
  std::vector<std::string> stop;
  bool stream = false;
};

// Throws std::invalid_argument ("max_tokens: must be an integer, got -3") for anything it refuses.
CompletionRequest parseCompletionRequest(const std::string& body);

}  // namespace behemoth
