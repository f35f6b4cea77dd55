// ZeRO's optimizer states in the two forms a checkpoint needs.
//
//   full:    per parameter, at its own shape: fp32 master weight and AdamW's two moments. It does
//            not depend on the layout, so a run at any dp can load it (resharding).
//   sharded: what one dp rank holds -- its partition of masters and moments as flat fp32 buffers,
//            plus where every piece of it belongs. Cheap to write (no collective); a run with the
//            same layout loads it back directly, and fullStateFromShards() reassembles the full
//            state from all dp ranks' shards for a run with a different one.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace behemoth {

struct ParameterOptimizerState {
  at::Tensor master;      // fp32, the parameter's shape
  at::Tensor exp_avg;     // fp32, the parameter's shape
  at::Tensor exp_avg_sq;  // fp32, the parameter's shape
};

struct FullOptimizerState {
  std::int64_t step = 0;  // updates applied so far (AdamW's bias correction)
  std::vector<ParameterOptimizerState> parameters;  // model order
};

struct ShardedOptimizerState {
  std::int64_t step = 0;
  int dp = 1;    // the dp size and rank that wrote it
  int rank = 0;
  std::vector<std::vector<std::int64_t>> shapes;  // every parameter's shape, model order
  // One row per parameter piece in this partition: (parameter, first element inside the flattened
  // parameter, first element inside the partition, elements), int64 [pieces, 4].
  at::Tensor pieces;
  at::Tensor master;      // fp32 [partition elements]
  at::Tensor exp_avg;     // fp32 [partition elements]
  at::Tensor exp_avg_sq;  // fp32 [partition elements]
};

// Reassembles the full state from the shards of every dp rank of one run (any order). Throws
// std::invalid_argument naming the problem when ranks are missing, repeated, or disagree.
FullOptimizerState fullStateFromShards(const std::vector<ShardedOptimizerState>& shards);

}  // namespace behemoth
