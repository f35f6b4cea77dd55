// Which parameters each stage of a model uses, read off the autograd graph of one traced forward:
// the parameters reachable from a stage's output without passing through the previous stages'
// outputs. The order stages first use parameters is the order ZeRO-3 packs them into chunks.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <vector>

namespace behemoth {

struct StageUses {
  // uses[s]: indices (into the parameter list) of the parameters stage s uses, ascending.
  std::vector<std::vector<std::size_t>> uses;
  // Every parameter once, in the order of its first use: stage by stage, and inside a stage in
  // registration (index) order.
  std::vector<std::size_t> first_use;
};

// `outputs[s]`: stage s's output of the traced forward (with a grad_fn); `params`: the leaves.
// Throws std::logic_error naming the parameter index when some parameter is used by no stage.
StageUses traceStageUses(const std::vector<at::Tensor>& outputs, const std::vector<at::Tensor>& params);

}  // namespace behemoth
