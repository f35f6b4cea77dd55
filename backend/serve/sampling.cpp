#include "backend/serve/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "backend/data/counter_rng.h"

namespace behemoth {

namespace {

TokenId argmax(const float* logits, std::int64_t vocab) {
  std::int64_t best = 0;
  for (std::int64_t i = 1; i < vocab; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<TokenId>(best);
}

}  // namespace

TokenId sampleToken(const float* logits, std::int64_t vocab, const SamplingParams& params, std::uint64_t index) {
  if (params.temperature <= 0.0 || params.top_k == 1) return argmax(logits, vocab);
  // Most likely first; equal logits keep id order so the choice never depends on the sort.
  std::vector<TokenId> order(static_cast<std::size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [logits](TokenId a, TokenId b) { return logits[a] > logits[b]; });
  std::size_t kept = order.size();
  if (params.top_k > 0) kept = std::min(kept, static_cast<std::size_t>(params.top_k));
  // Softmax at the temperature in double, relative to the largest logit.
  const double top = logits[order.front()];
  std::vector<double> weights(kept);
  double total = 0.0;
  for (std::size_t i = 0; i < kept; ++i) {
    weights[i] = std::exp((logits[order[i]] - top) / params.temperature);
    total += weights[i];
  }
  if (params.top_p < 1.0) {
    double mass = 0.0;
    std::size_t nucleus = 0;
    while (nucleus < kept && mass < params.top_p * total) mass += weights[nucleus++];
    kept = std::max<std::size_t>(nucleus, 1);
    total = mass > 0.0 ? mass : weights.front();
  }
  const double target = unitOpenInterval(counterHash(params.seed, index, 0x53414D504C45ull)) * total;  // "SAMPLE"
  double cumulative = 0.0;
  for (std::size_t i = 0; i < kept; ++i) {
    cumulative += weights[i];
    if (target < cumulative) return order[i];
  }
  return order[kept - 1];
}

}  // namespace behemoth
