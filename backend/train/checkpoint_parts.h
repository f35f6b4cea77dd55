// What one rank contributes to (and takes from) a checkpoint: each StateView of its updater named
// globally ("exp_avg/h.0.mlp.fc.weight"), with the global slices its elements are. Tensor
// parallelism decides the box (a shard along one dimension; GPT's fused qkv is three boxes, one
// per q/k/v block; vocabulary padding rows belong to no slice); ZeRO decides the flat range.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "backend/checkpoint/checkpoint_format.h"
#include "backend/parallelize/parallelize.h"
#include "backend/train/parameter_updater.h"

namespace behemoth {

struct SliceOfValues {
  TensorSlice slice;
  std::int64_t values_offset = 0;  // where the slice's elements start inside CheckpointPart::values
};

struct CheckpointPart {
  std::string name;                 // "<kind>/<parameter name>"
  std::vector<std::int64_t> shape;  // global shape
  at::Tensor values;                // 1-D view into the live state
  std::vector<SliceOfValues> slices;
  bool written_here = false;        // this rank is the one of the replicas that saves it
};

// The elements [local_begin, local_begin + numel) of a tp-local parameter of shape `local_shape`
// placed as `placement` on tp rank `tp_rank` of `tp`, as slices of the global tensor (global_shape).
// Padding elements are in no slice. Throws std::invalid_argument for a placement it cannot express.
std::vector<SliceOfValues> globalSlicesOf(const std::vector<std::int64_t>& local_shape,
                                          const std::vector<std::int64_t>& global_shape,
                                          const ParameterPlacement& placement, int tp_rank, int tp,
                                          std::int64_t local_begin, std::int64_t numel);

// The parameter's global shape from its local one.
std::vector<std::int64_t> globalShapeOf(const std::vector<std::int64_t>& local_shape, const ParameterPlacement& placement);

struct PartsContext {
  const std::vector<std::string>* names = nullptr;         // parameter names, model order
  const std::vector<at::Tensor>* parameters = nullptr;     // local parameters, model order
  const TensorParallelLayout* tp_layout = nullptr;
  int dp_rank = 0;
  int dp = 1;
  int tp_rank = 0;
  int tp = 1;
  // Per parameter (may be null): true for a copy another rank saves -- the last pipeline stage's
  // tied head, whose values equal the first stage's embedding. Loaded, never written.
  const std::vector<bool>* loaded_only = nullptr;
};

std::vector<CheckpointPart> checkpointParts(const std::vector<StateView>& views, const PartsContext& context);

}  // namespace behemoth
