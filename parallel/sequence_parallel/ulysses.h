// DeepSpeed-Ulysses around attention: each sp rank holds a contiguous shard of the sequence for
// every head; one all-to-all turns that into the whole sequence for 1/sp of the heads (attention
// needs every key, but heads are independent), and a second turns the output back. Autograd
// differentiates through both (the backward of an all-to-all is the reverse all-to-all).
#pragma once

#include <ATen/Tensor.h>

#include "parallel/group.h"

namespace behemoth {

// [B, H, T / sp, D] -> [B, H / sp, T, D] (rank r gets heads [r H / sp, (r + 1) H / sp)).
at::Tensor ulyssesToHeads(const at::Tensor& x, Group& sp);
// [B, H / sp, T, D] -> [B, H, T / sp, D], the inverse.
at::Tensor ulyssesToSequence(const at::Tensor& x, Group& sp);

}  // namespace behemoth
