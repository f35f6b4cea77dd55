// LayerNorm and RMSNorm over the last dimension with the residual add fused in, forward and
// backward, fp32 and bf16 on the CPU (reference twin of a future CUDA kernel):
//   sum = x + residual;  output = norm(sum) * weight (+ bias)
// One pass reads x and residual and writes sum and output; statistics are in float (two-pass
// mean and variance per row); bf16 values are rounded once, at the store.
#pragma once

#include <ATen/Tensor.h>

namespace behemoth {

enum class NormKind { layer_norm, rms_norm };

struct NormForward {
  at::Tensor sum;     // x + residual (x itself when residual is undefined)
  at::Tensor output;  // the normalized sum times weight, plus bias (LayerNorm)
  at::Tensor mean;    // float [rows], per row (undefined for RMSNorm)
  at::Tensor rstd;    // float [rows], 1 / sqrt(variance + eps) (RMSNorm: of the mean square)
};

// x contiguous fp32 or bf16, residual (optional) of x's shape and dtype, weight [x.size(-1)] and
// bias (LayerNorm only, optional) of any float dtype.
NormForward fusedNormForward(NormKind kind, const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight,
                             const at::Tensor& bias, double eps);

struct NormGradients {
  at::Tensor sum;     // the gradient of x and of residual (both are `sum`'s)
  at::Tensor weight;  // in weight's dtype
  at::Tensor bias;    // in bias's dtype; undefined without a bias
};

// grad_output of output's shape; grad_sum (optional): a gradient that reached `sum` directly (the
// residual stream read after the norm), added into the result.
NormGradients fusedNormBackward(NormKind kind, const at::Tensor& grad_output, const at::Tensor& grad_sum,
                                const NormForward& saved, const at::Tensor& weight, const at::Tensor& bias);

}  // namespace behemoth
