// Choosing the next token from a row of logits: greedy (temperature 0), or sampled with
// temperature, top-k and top-p. The random number of a sequence's n-th token is a pure function of
// (the request's seed, n), so a seeded request returns the same text whatever else is in the batch
// and on every tensor-parallel rank.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/tokenizer/tokenizer.h"

namespace behemoth {

struct SamplingParams {
  double temperature = 1.0;  // 0: greedy
  int top_k = 0;             // keep the k most likely tokens; 0: all
  double top_p = 1.0;        // keep the smallest set of most likely tokens whose mass reaches p
  std::uint64_t seed = 0;
};

// The token for the `index`-th generated token (0-based) of a request, from its logits over the
// vocabulary. Ties in greedy decoding go to the lowest id (as argmax does).
TokenId sampleToken(const float* logits, std::int64_t vocab, const SamplingParams& params, std::uint64_t index);

}  // namespace behemoth
