// AdamW over flat fp32 arrays on the CPU, as torch.optim.AdamW computes it (decoupled weight decay
// p -= lr*wd*p, bias-corrected moments). The loop is plain per-element float arithmetic that the
// compiler vectorizes at -O3, split into chunks over at::parallel_for's threads. Used by ZeRO to
// update a rank's partition (in host memory when the optimizer is offloaded).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace behemoth {

struct AdamWStep {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  std::int64_t step = 1;  // 1-based count of updates including this one (bias correction)
};

// Updates params, exp_avg and exp_avg_sq in place from grads; every array holds n floats.
void cpuAdamW(float* params, const float* grads, float* exp_avg, float* exp_avg_sq, std::int64_t n,
              const AdamWStep& hyper);

// Tensor form: every tensor contiguous fp32 on the CPU with the same number of elements.
// Throws std::invalid_argument naming the tensor that is not.
void cpuAdamW(at::Tensor& params, const at::Tensor& grads, at::Tensor& exp_avg, at::Tensor& exp_avg_sq,
              const AdamWStep& hyper);

}  // namespace behemoth
