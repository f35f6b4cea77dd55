#include "kernels/tensor_adamw.h"

#include <ATen/ATen.h>

#include <cmath>

namespace behemoth {

void tensorAdamW(at::Tensor& params, const at::Tensor& grads, at::Tensor& exp_avg, at::Tensor& exp_avg_sq,
                 const AdamWStep& hyper) {
  if (hyper.weight_decay != 0.0) params.mul_(1.0 - hyper.lr * hyper.weight_decay);
  exp_avg.mul_(hyper.beta1).add_(grads, 1.0 - hyper.beta1);
  exp_avg_sq.mul_(hyper.beta2).addcmul_(grads, grads, 1.0 - hyper.beta2);
  const double step = static_cast<double>(hyper.step);
  const double bias_correction1 = 1.0 - std::pow(hyper.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(hyper.beta2, step);
  const at::Tensor denominator = (exp_avg_sq.sqrt() / std::sqrt(bias_correction2)).add_(hyper.eps);
  params.addcdiv_(exp_avg, denominator, -hyper.lr / bias_correction1);
}

}  // namespace behemoth
