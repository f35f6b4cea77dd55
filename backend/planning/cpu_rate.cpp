#include "backend/planning/cpu_rate.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>

namespace behemoth {
namespace {

// Sets the math thread count for a measurement and restores it after.
class ThreadCount {
 public:
  explicit ThreadCount(int threads) : previous_(at::get_num_threads()) {
    if (threads > 0) at::set_num_threads(threads);
  }
  ~ThreadCount() { at::set_num_threads(previous_); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int previous_;
};

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

double measureCpuMatmulFlops(int threads, int size, double seconds, c10::ScalarType dtype) {
  const ThreadCount guard(threads);
  const auto options = at::TensorOptions().dtype(dtype);
  const at::Tensor a = at::randn({size, size}).to(options);
  const at::Tensor b = at::randn({size, size}).to(options);
  at::Tensor c = at::empty({size, size}, options);
  at::mm_out(c, a, b);  // warm-up
  const auto start = std::chrono::steady_clock::now();
  long runs = 0;
  double elapsed = 0;
  do {
    at::mm_out(c, a, b);
    ++runs;
    elapsed = secondsSince(start);
  } while (elapsed < seconds);
  return 2.0 * size * double(size) * size * double(runs) / elapsed;
}

}  // namespace behemoth
