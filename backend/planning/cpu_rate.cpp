#include "backend/planning/cpu_rate.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "backend/model/language_model.h"
#include "backend/planning/plan_inputs.h"
#include "memory/model_description.h"

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

double measureCpuMatmulFlops(int threads, int size, double seconds) {
  const ThreadCount guard(threads);
  const at::Tensor a = at::randn({size, size});
  const at::Tensor b = at::randn({size, size});
  at::Tensor c = at::mm(a, b);  // warm-up
  const auto start = std::chrono::steady_clock::now();
  long runs = 0;
  double elapsed = 0;
  do {
    c = at::mm(a, b);
    ++runs;
    elapsed = secondsSince(start);
  } while (elapsed < seconds);
  return 2.0 * size * double(size) * size * double(runs) / elapsed;
}

double measureModelFlopsRate(const ModelConfig& config, int micro_batch, int threads, int concurrent,
                             double seconds) {
  const ThreadCount guard(threads);
  const double flops_per_pass = flopsPerToken(describeModel(config)).model() * micro_batch * config.seq_len;
  std::vector<double> rates(static_cast<std::size_t>(std::max(1, concurrent)), 0.0);
  auto measure = [&](std::size_t slot) {
    auto model = buildModel(config, slot);
    const at::Tensor tokens = at::randint(0, config.vocab_size, {micro_batch, config.seq_len}, at::kLong);
    auto pass = [&] {
      for (auto& p : model->parameters()) {
        if (p.grad().defined()) p.mutable_grad().zero_();
      }
      lossFromLogits(model->forward(tokens), tokens).backward();
    };
    pass();  // warm-up (allocations, first touch)
    const auto start = std::chrono::steady_clock::now();
    long runs = 0;
    double elapsed = 0;
    do {
      pass();
      ++runs;
      elapsed = secondsSince(start);
    } while (elapsed < seconds);
    rates[slot] = flops_per_pass * double(runs) / elapsed;
  };
  std::vector<std::thread> copies;
  for (std::size_t k = 1; k < rates.size(); ++k) copies.emplace_back(measure, k);
  measure(0);
  for (auto& copy : copies) copy.join();
  double sum = 0;
  for (double rate : rates) sum += rate;
  return sum / double(rates.size());
}

}  // namespace behemoth
