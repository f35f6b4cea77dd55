// Test-only injection points of the ZeRO optimizer (set in a test before ranks fork; never in production).
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>

namespace behemoth {

// Called on every rank after the gradient reduction of each optimizer step with (dp rank, step
// index from 0, this rank's fp32 gradient shard before unscaling), e.g. to plant an inf.
using GradientShardHook = std::function<void(int dp_rank, std::int64_t step, at::Tensor& shard)>;
void setZeroGradientHookForTesting(GradientShardHook hook);
const GradientShardHook& zeroGradientHookForTesting();

}  // namespace behemoth
