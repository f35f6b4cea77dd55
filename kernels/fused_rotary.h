// Rotary position embedding in one pass, fp32 and bf16 on the CPU (reference twin of a future CUDA
// kernel): out = x * cos + rotate_half(x) * sin with rotate_half(x) = [-x2, x1], the halves of the
// head dimension. ATen's composition makes five temporaries the size of x; this reads x once and
// writes the result once, in place where the caller allows it. Backward is the transposed rotation
// and needs only the tables.
#pragma once

#include <ATen/Tensor.h>

namespace behemoth {

// x [B, H, T, D] (D even, the last dimension dense; other strides free), cos and sin [T, D] of
// x's dtype -> the rotated x, a new dense [B, H, T, D] tensor.
at::Tensor rotaryForward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// The gradient with respect to x of rotaryForward, given the gradient of its output.
at::Tensor rotaryBackward(const at::Tensor& grad_output, const at::Tensor& cos, const at::Tensor& sin);

// rotaryForward written over x itself (x keeps its strides): for steps without autograd (serving,
// evaluation), where nothing else reads the unrotated x.
void rotaryInPlace(at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace behemoth
