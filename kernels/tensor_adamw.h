// AdamW as tensor operations, in torch.optim.AdamW's order: runs wherever its tensors live, so it
// is "the device's update" for ZeRO-3 chunks placed on the device (on a CPU-only machine the same
// ops run on the CPU). Chunks in host memory or on disk use kernels/cpu_adamw.h instead; both give
// torch's result within fp32 rounding (tests/kernels/tensor_adamw_test.cpp).
#pragma once

#include <ATen/core/Tensor.h>

#include "kernels/cpu_adamw.h"

namespace behemoth {

// In place on params, exp_avg and exp_avg_sq (fp32, same shape as grads).
void tensorAdamW(at::Tensor& params, const at::Tensor& grads, at::Tensor& exp_avg, at::Tensor& exp_avg_sq,
                 const AdamWStep& hyper);

}  // namespace behemoth
