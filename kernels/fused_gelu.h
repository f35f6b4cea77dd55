// GELU with the tanh approximation, bias add fused (forward and backward), fp32 and bf16 on the
// CPU. The CPU version is the reference twin of a future CUDA kernel with the same signature.
//   gelu(z) = 0.5 z (1 + tanh(u)),  u = sqrt(2/pi) (z + 0.044715 z^3),  z = x + bias
// computed as z * sigmoid(2u), which is the same function without the cancellation 1 + tanh(u)
// suffers for negative z. bf16 inputs are computed in float and rounded once.
#pragma once

#include <ATen/Tensor.h>

#include <utility>

namespace behemoth {

// gelu(x + bias), bias over the last dimension (undefined: no bias). x contiguous fp32 or bf16;
// bias of x's dtype, shape [x.size(-1)].
at::Tensor geluTanhForward(const at::Tensor& x, const at::Tensor& bias);

// The gradients of geluTanhForward with respect to x and bias (undefined when bias is).
std::pair<at::Tensor, at::Tensor> geluTanhBackward(const at::Tensor& grad_output, const at::Tensor& x,
                                                   const at::Tensor& bias);

}  // namespace behemoth
