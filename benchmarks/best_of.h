// The benchmarks' timer: the best of `repeats` runs of `body`, in seconds (the least disturbed by
// whatever else the shared machine is doing).
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>

inline double bestSecondsOf(int repeats, const std::function<void()>& body) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    body();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}
