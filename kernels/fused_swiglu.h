// SwiGLU's gate, silu(gate) * up, forward and backward in one pass each, fp32 and bf16 on the CPU
// (reference twin of a future CUDA kernel). silu(a) = a * sigmoid(a); bf16 is computed in float
// and rounded once.
#pragma once

#include <ATen/Tensor.h>

#include <utility>

namespace behemoth {

// silu(gate) * up for gate and up of one shape and dtype (fp32 or bf16).
at::Tensor swigluForward(const at::Tensor& gate, const at::Tensor& up);

// The gradients with respect to gate and up.
std::pair<at::Tensor, at::Tensor> swigluBackward(const at::Tensor& grad_output, const at::Tensor& gate, const at::Tensor& up);

}  // namespace behemoth
