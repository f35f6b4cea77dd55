// The 1D (Megatron-LM) tensor-parallel layers as functions over the tp group, each autograd-correct
// through the conjugate collectives of parallel/autograd_collectives.h.
//
// Without sequence parallelism the hidden state between blocks is replicated on every tp rank:
//   column-parallel: f (identity forward, all-reduce of the input gradient) then the local matmul;
//   row-parallel:    local matmul then g (all-reduce forward, identity backward), bias after g.
// With sequence parallelism (Megatron-SP) the hidden state is sharded along the sequence (dim 1):
//   column-parallel: all-gather the sequence and multiply, keeping only the shard for backward;
//                    backward all-gathers it again (for the weight gradients) and reduce-scatters
//                    the input gradient;
//   row-parallel:    reduce-scatter the output along the sequence forward, all-gather backward.
// SP keeps norms, residual adds, dropout and the column-parallel inputs on 1/tp of the tokens; it
// moves the same bytes as the all-reduces it replaces plus one all-gather per column-parallel input.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "parallel/group.h"

namespace behemoth {

// How one tp layer talks to its group.
struct TensorParallelContext {
  Group* group = nullptr;          // the tp group (must outlive every graph built over it)
  bool sequence_parallel = false;  // hidden states between blocks are sharded along dim 1
};

// A row range [offset, offset + size) of a dimension split evenly into `parts` after padding the
// dimension up to a multiple of `parts`.
struct ShardRange {
  std::int64_t offset = 0;
  std::int64_t size = 0;
};
std::int64_t paddedToMultiple(std::int64_t length, std::int64_t parts);
ShardRange evenShard(std::int64_t length, int parts, int index);  // over the padded length

// The input a column-parallel matmul reads: f(x) or, under SP, x itself (the sequence shard: the
// matmul gathers it, so that backward keeps the shard rather than the full sequence).
at::Tensor columnParallelInput(const at::Tensor& x, const TensorParallelContext& tp);
// Local matmul of a prepared input with this rank's output rows; gather_output all-gathers the
// last dimension (the full output on every rank).
at::Tensor columnParallelLinear(const at::Tensor& prepared, const at::Tensor& weight_shard,
                                const at::Tensor& bias_shard, const TensorParallelContext& tp, bool gather_output);
// Several column-parallel matmuls of one prepared input (q, k, v; gate and up): under SP one
// all-gather forward, and in backward one all-gather and one reduce-scatter of the input gradient
// summed over the weights. bias_shards is empty or holds one (possibly undefined) bias per weight.
std::vector<at::Tensor> columnParallelLinears(const at::Tensor& prepared, const std::vector<at::Tensor>& weight_shards,
                                              const std::vector<at::Tensor>& bias_shards,
                                              const TensorParallelContext& tp);
// x holds this rank's slice of the input features; weight_shard [out, in / tp]. The bias (full,
// replicated) is added once, after the reduction.
at::Tensor rowParallelLinear(const at::Tensor& x, const at::Tensor& weight_shard, const at::Tensor& bias,
                             const TensorParallelContext& tp);

// Token lookup in rows [first_row, first_row + weight_shard.size(0)) of the (padded) table: ids
// outside this rank's rows give zeros, the sum over ranks (or under SP its sequence
// reduce-scatter) is the full embedding.
at::Tensor vocabParallelEmbedding(const at::Tensor& ids, const at::Tensor& weight_shard, std::int64_t first_row,
                                  const TensorParallelContext& tp);

// Mean cross-entropy over every token from this rank's vocabulary slice of the logits, never
// gathering them: logits_shard [..., V / tp] holds global columns first_column.., targets [...]
// int64. Columns at or beyond `vocab_size` (padding) are masked out with -inf, so they change
// neither the loss nor any gradient. Three all-reduces of one value per token (max, sum of
// exponentials, target logit). Every rank returns the same loss; the backward gives each rank the
// gradient of its own columns.
at::Tensor vocabParallelCrossEntropy(const at::Tensor& logits_shard, const at::Tensor& targets,
                                     std::int64_t first_column, std::int64_t vocab_size, Group& group);

}  // namespace behemoth
