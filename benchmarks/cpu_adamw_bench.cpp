// CPU AdamW (kernels/cpu_adamw.h) against torch's AdamW (torch::optim::AdamW: the same tensor
// operations as Python's single-tensor torch.optim.AdamW) on the same fp32 tensors. Prints a table
// of nanoseconds per parameter and the ratio (torch / ours: above 1 means ours is faster).
//
//   build/bin/cpu_adamw_bench [threads]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "kernels/cpu_adamw.h"
#include "benchmarks/best_of.h"

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  at::set_num_threads(threads);
  std::printf("threads %d\n%12s %14s %14s %8s\n", threads, "params", "ours ns/param", "torch ns/param", "ratio");
  for (std::int64_t n : {std::int64_t(1) << 16, std::int64_t(1) << 20, std::int64_t(1) << 23}) {
    at::Tensor grad = at::randn({n});
    at::Tensor reference = at::randn({n});
    reference.mutable_grad() = grad;
    torch::optim::AdamW optimizer({reference}, torch::optim::AdamWOptions(1e-3).weight_decay(0.1));
    at::Tensor params = reference.detach().clone();
    at::Tensor m = at::zeros({n});
    at::Tensor v = at::zeros({n});
    behemoth::AdamWStep hyper;
    hyper.weight_decay = 0.1;
    const int repeats = n > (1 << 20) ? 5 : 20;
    const double ours = bestSecondsOf(repeats, [&] {
      behemoth::cpuAdamW(params, grad, m, v, hyper);
      ++hyper.step;
    });
    const double theirs = bestSecondsOf(repeats, [&] { optimizer.step(); });
    std::printf("%12lld %14.3f %14.3f %8.2f\n", static_cast<long long>(n), ours * 1e9 / n, theirs * 1e9 / n, theirs / ours);
  }
  return 0;
}
