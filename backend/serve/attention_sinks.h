// StreamingLLM's rule for a context that has outgrown the positions a model was trained on: keep
// its first `sinks` tokens (where much of every query's attention lands, whatever they say) and its
// last `window` tokens, and drop the middle. The kept tokens then sit at positions 0.. again.
// The scheduler applies it to a generating sequence; benchmarks/attention_sink_bench.cpp to
// held-out text, so the perplexity it measures is that of the policy the server runs.
#pragma once

#include <cstdint>
#include <vector>

namespace behemoth {

inline std::vector<std::int64_t> keepSinksAndWindow(const std::vector<std::int64_t>& context, int sinks, int window) {
  std::vector<std::int64_t> kept(context.begin(), context.begin() + sinks);
  kept.insert(kept.end(), context.end() - window, context.end());
  return kept;
}

}  // namespace behemoth
