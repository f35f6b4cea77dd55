// Error measures and leaves shared by the fused-kernel tests (fused_kernels_test.cpp,
// fused_loss_rotary_test.cpp).
#pragma once

#include <ATen/ATen.h>

#include <algorithm>

namespace behemoth::kernel_test {

// ||ours - reference|| / ||reference||, in float64.
inline double relativeNormError(const at::Tensor& ours, const at::Tensor& reference) {
  const at::Tensor a = ours.to(at::kDouble);
  const at::Tensor b = reference.to(at::kDouble);
  return (a - b).norm().item<double>() / std::max(b.norm().item<double>(), 1e-300);
}

// The largest element-wise error relative to the reference's largest element (bf16 bounds).
inline double maxErrorRelativeToLargest(const at::Tensor& ours, const at::Tensor& reference) {
  const at::Tensor a = ours.to(at::kDouble);
  const at::Tensor b = reference.to(at::kDouble);
  return ((a - b).abs() / (b.abs().max() + 1e-30)).max().item<double>();
}

// A fresh leaf that requires grad, holding t's values.
inline at::Tensor leaf(const at::Tensor& t) { return t.detach().clone().requires_grad_(true); }

}  // namespace behemoth::kernel_test
