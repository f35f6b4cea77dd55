// Collectives that autograd differentiates through (the Megatron-LM conjugate pairs). Each is a
// torch::autograd::Function whose backward runs the conjugate collective over the same group, so
// every rank of the group must run backward through the same sequence of these calls.
// The group must outlive the backward pass (the world owns its groups).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "parallel/group.h"

namespace behemoth {

// Forward identity; backward all_reduce(sum) of the gradient (Megatron "f").
at::Tensor copyToGroup(const at::Tensor& x, Group& group);
// Forward all_reduce(sum); backward identity (Megatron "g").
at::Tensor reduceFromGroup(const at::Tensor& x, Group& group);
// Forward all_gather along dim; backward keeps this rank's chunk of the (replicated) gradient.
at::Tensor gatherFromGroup(const at::Tensor& x, Group& group, int64_t dim);
// Forward all_gather along dim; backward reduce_scatter of the gradient (sequence parallel, where
// each rank's gradient of the gathered tensor is a partial sum).
at::Tensor allGatherWithReduceScatterGrad(const at::Tensor& x, Group& group, int64_t dim);
// Forward keeps this rank's chunk along dim; backward all_gather.
at::Tensor scatterToGroup(const at::Tensor& x, Group& group, int64_t dim);
// Forward reduce_scatter along dim; backward all_gather.
at::Tensor reduceScatterToGroup(const at::Tensor& x, Group& group, int64_t dim);
// Forward all_to_all (split_dim -> concat_dim); backward all_to_all with the dims swapped.
at::Tensor allToAllInGroup(const at::Tensor& x, Group& group, int64_t split_dim, int64_t concat_dim);

}  // namespace behemoth
