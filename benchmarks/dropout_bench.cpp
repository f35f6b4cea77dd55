// Counter-based dropout (backend/model/dropout.h: the mask computed from each element's global
// coordinates, then applied) against torch's at::dropout (Bernoulli draws from the stateful CPU
// generator) on the same fp32 tensor, forward only. Prints nanoseconds per element and the ratio
// (torch / ours: above 1 means ours is faster).
//
//   build/bin/dropout_bench [threads]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "backend/model/dropout.h"
#include "benchmarks/best_of.h"

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  at::set_num_threads(threads);
  const double p = 0.1;
  std::printf("threads %d, p %.1f\n%12s %14s %14s %8s\n", threads, p, "elements", "ours ns/elem", "torch ns/elem",
              "ratio");
  // Residual-stream shaped [B, T, d]: B = 8, T = 256, d from 32 to 4096.
  for (const std::int64_t d : {32, 512, 4096}) {
    const at::Tensor x = at::randn({8, 256, d});
    const behemoth::FullTensorSlice slice{0, {0, 0}, {256, d}};
    const int repeats = d > 512 ? 5 : 20;
    std::uint64_t stream = 1;
    const double ours = bestSecondsOf(repeats, [&] { behemoth::applyDropout(x, slice, stream++, p); });
    const double theirs = bestSecondsOf(repeats, [&] { at::dropout(x, p, /*train=*/true); });
    const double n = static_cast<double>(x.numel());
    std::printf("%12lld %14.3f %14.3f %8.2f\n", static_cast<long long>(x.numel()), ours * 1e9 / n, theirs * 1e9 / n,
                theirs / ours);
  }
  return 0;
}
