#include "kernels/cpu_adamw.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace behemoth {
namespace {

// The per-element arithmetic in float, in the order torch's AdamW applies its tensor operations,
// so the result matches torch to the last bit or two. Scalars are formed in double and rounded to
// float once, as torch does when it passes a double scalar to a float kernel.
struct Coefficients {
  float decay;         // 1 - lr*wd
  float beta1;
  float one_minus_beta1;
  float beta2;
  float one_minus_beta2;
  float sqrt_bias2;    // sqrt(1 - beta2^t)
  float eps;
  float step_size;     // lr / (1 - beta1^t)
};

Coefficients coefficientsFor(const AdamWStep& h) {
  if (h.step < 1) throw std::invalid_argument("cpuAdamW: step must be at least 1, got " + std::to_string(h.step));
  const double bias1 = 1.0 - std::pow(h.beta1, static_cast<double>(h.step));
  const double bias2 = 1.0 - std::pow(h.beta2, static_cast<double>(h.step));
  return {static_cast<float>(1.0 - h.lr * h.weight_decay),
          static_cast<float>(h.beta1),
          static_cast<float>(1.0 - h.beta1),
          static_cast<float>(h.beta2),
          static_cast<float>(1.0 - h.beta2),
          static_cast<float>(std::sqrt(bias2)),
          static_cast<float>(h.eps),
          static_cast<float>(h.lr / bias1)};
}

void updateRange(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,
                 std::int64_t begin, std::int64_t end, const Coefficients& c) {
  for (std::int64_t i = begin; i < end; ++i) {
    const float grad = g[i];
    const float param = p[i] * c.decay;
    const float avg = m[i] * c.beta1 + c.one_minus_beta1 * grad;
    const float avg_sq = v[i] * c.beta2 + c.one_minus_beta2 * (grad * grad);
    const float denom = std::sqrt(avg_sq) / c.sqrt_bias2 + c.eps;
    m[i] = avg;
    v[i] = avg_sq;
    p[i] = param - c.step_size * (avg / denom);
  }
}

void requireFlatFloat(const at::Tensor& t, const char* name, std::int64_t n) {
  if (!t.defined() || t.scalar_type() != at::kFloat || !t.is_contiguous() || !t.device().is_cpu()) {
    throw std::invalid_argument(std::string("cpuAdamW: ") + name + " must be a contiguous fp32 CPU tensor");
  }
  if (t.numel() != n) {
    throw std::invalid_argument(std::string("cpuAdamW: ") + name + " has " + std::to_string(t.numel()) +
                                " elements, params have " + std::to_string(n));
  }
}

}  // namespace

void cpuAdamW(float* params, const float* grads, float* exp_avg, float* exp_avg_sq, std::int64_t n,
              const AdamWStep& hyper) {
  const Coefficients c = coefficientsFor(hyper);
  // Chunks of 32K floats: big enough to amortize a task, small enough to balance the threads.
  constexpr std::int64_t kGrain = 32 * 1024;
  at::parallel_for(0, n, kGrain, [&](std::int64_t begin, std::int64_t end) {
    updateRange(params, grads, exp_avg, exp_avg_sq, begin, end, c);
  });
}

void cpuAdamW(at::Tensor& params, const at::Tensor& grads, at::Tensor& exp_avg, at::Tensor& exp_avg_sq,
              const AdamWStep& hyper) {
  const std::int64_t n = params.numel();
  requireFlatFloat(params, "params", n);
  requireFlatFloat(grads, "grads", n);
  requireFlatFloat(exp_avg, "exp_avg", n);
  requireFlatFloat(exp_avg_sq, "exp_avg_sq", n);
  cpuAdamW(params.data_ptr<float>(), grads.data_ptr<float>(), exp_avg.data_ptr<float>(), exp_avg_sq.data_ptr<float>(),
           n, hyper);
}

}  // namespace behemoth
