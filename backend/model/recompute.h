// Activation recomputation (train.recompute): keep only a region's inputs during forward and run
// the region again inside backward to get what its gradient needs. "full" wraps every transformer
// block (only the block's input stays alive); "selective" wraps the attention core -- q k^T,
// softmax, dropout, times v -- whose s x s tensors are the largest and cheapest to recompute
// (Korthikanti et al. 2022). Parameter gradients of the region accumulate during the recomputed
// backward as they would have without recomputation, so every layout's gradients are unchanged.
#pragma once

#include <ATen/Tensor.h>

#include <functional>
#include <vector>

#include "memory/training_layout.h"

namespace behemoth {

using RecomputedRegion = std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>&)>;

// region(inputs) without saving anything inside it for backward when grad mode is on (and plainly
// region(inputs) when it is off). In backward, region runs again on detached copies of `inputs`
// and its outputs are back-propagated; the inputs' gradients flow on. `region` must compute the
// same values when run again (dropout here is keyed on coordinates, not on a generator), and must
// not read state that changes between forward and backward (capture it by value). Besides its
// inputs it may use parameters (leaves: their gradients accumulate in the recomputed backward) and
// tensors that need no gradient; any other tensor that needs one must be passed as an input. In
// evaluation, or when no input requires grad, region just runs (with autograd, in the latter case).
std::vector<at::Tensor> recomputeInBackward(const RecomputedRegion& region, const std::vector<at::Tensor>& inputs);

}  // namespace behemoth
