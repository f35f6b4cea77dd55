// The sum of a tensor's squared elements in float64, for gradient norms: one pass over the data,
// no float64 copy of it (ATen's `g.to(kDouble).pow(2).sum()` allocates two tensors the size of g
// per parameter per step). Each square of an fp32 or bf16 value is exact in float64; the sum runs
// over fixed blocks added in order, so it does not depend on the thread count.
#pragma once

#include <ATen/Tensor.h>

namespace behemoth {

// Any dtype and device; fp32 and bf16 CPU tensors take the single pass, others ATen's operators.
double sumOfSquares(const at::Tensor& t);

}  // namespace behemoth
