// The fused CPU kernels (kernels/fused_*.h) as differentiable operations with hand-written
// backward: what the zoo calls when model.kernels is "fused" (docs/kernels.md). Each equals the
// ATen composition it replaces (tests/kernels/fused_kernels_test.cpp).
#pragma once

#include <ATen/Tensor.h>

#include <utility>

#include "kernels/fused_norm.h"

namespace behemoth {

// gelu(x + bias, approximate="tanh"); bias may be undefined.
at::Tensor fusedGelu(const at::Tensor& x, const at::Tensor& bias = {});

// silu(gate) * up.
at::Tensor fusedSwiglu(const at::Tensor& gate, const at::Tensor& up);

// norm(x) * weight (+ bias): LayerNorm (bias may be undefined) or RMSNorm (no bias).
at::Tensor fusedNorm(NormKind kind, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps);

// {sum, norm(sum) * weight (+ bias)} with sum = x + residual, in one pass each way.
std::pair<at::Tensor, at::Tensor> fusedAddNorm(NormKind kind, const at::Tensor& x, const at::Tensor& residual,
                                               const at::Tensor& weight, const at::Tensor& bias, double eps);

// x [B, H, T, D] rotated by the tables cos, sin [T, D] (LLaMA's rotary embedding); without
// autograd the rotation is written over x itself and x is returned.
at::Tensor fusedRotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// The mean softmax cross-entropy of logits [N, V] against int64 targets [N] (-100: left out).
at::Tensor fusedCrossEntropy(const at::Tensor& logits, const at::Tensor& targets);

// Whether the fused kernels take tensors of this dtype on this device (fp32 or bf16 on the CPU).
bool fusedKernelsTake(const at::Tensor& t);

}  // namespace behemoth
