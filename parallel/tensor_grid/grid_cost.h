// What one rank holds and sends under each tensor-parallel mode (docs/tensor-parallel-grid.md),
// written from the layers' structure: every all-gather, reduce-scatter and all-reduce that the
// engine's grid layers (grid_ops.h, backend/parallelize/grid_parallelize.h) and 1D layers issue,
// sized with parallel/comm_counter's functions, the ones the engine counts with. The parity tests
// assert these equal the engine's counters; the planner's --explain-tp prints them at scale.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "memory/model_description.h"
#include "parallel/tensor_grid/tensor_grid.h"

namespace behemoth {

struct TensorParallelWorkload {
  std::int64_t micro_batch = 1;  // sequences of one micro-batch on the tp group (one dp rank's)
  int micro_batches = 1;         // per step
  int element_bytes = 4;         // the working dtype (activations, weights, gradients)
  // One pipeline stage's part (the whole model by default): its blocks, and whether it holds the
  // embedding (the first stage) and the final norm, head and loss (the last). A last stage
  // without the embedding holds its own copy of a tied table.
  int layers = -1;  // -1: every block of the model
  bool embedding = true;
  bool head = true;
  int stages = 1;  // pp: the gradient norm's all-reduce then spans pp x tp, not the tp group
  int sequence_shards = 1;  // sp: each rank's blocks hold seq_len / sp of every sequence's tokens
};

struct TensorParallelCost {
  std::int64_t parameter_elements = 0;             // working parameters one rank holds
  std::map<std::string, std::int64_t> comm_bytes;  // bus bytes per step by group label ("tp", "tp_row", ...)
  std::int64_t activation_elements = 0;            // the residual stream's block on one rank
  std::int64_t totalCommBytes() const;
};

// The cost of `grid` (1D included: TensorGrid{one_d, tp}) for `model` and `work`, at one dp rank.
// The comm bytes are those of the tp group and its sub-axes only (the dp reduction is the same
// in every mode); under 1D they are the Megatron layers without sequence parallelism.
// Throws std::invalid_argument when the model does not split over the grid.
TensorParallelCost tensorParallelCost(const ModelDescription& model, const TensorGrid& grid, const TensorParallelWorkload& work);

}  // namespace behemoth
