// Layout-independent dropout. A mask element is a pure function of (train.seed, training step,
// dropout site, layer, global sample, the element's position in the full unsharded tensor), drawn
// from the counter-based hash of backend/data/counter_rng.h. A data-parallel rank, a micro-batch,
// a tensor-parallel head shard or a sequence-parallel shard computes exactly its slice of the mask
// one process would draw for the whole batch, so dropout keeps parity with single-process training.
// (torch's dropout draws from a stateful generator: its masks depend on the layout.)
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <vector>

#include "kernels/attention_blocks.h"
#include "parallel/sequence_parallel/sequence_shard.h"

namespace behemoth {

// What the trainer sets before each forward: which step this is and which global sample local row
// 0 of the batch is (dp rank offset plus micro-batch offset).
struct DropoutContext {
  std::uint64_t seed = 0;
  std::int64_t step = 0;
  std::int64_t first_sample = 0;
};

// The places the zoo models drop activations; each (site, layer) has its own stream.
enum class DropoutSite : std::uint64_t {
  embedding = 1,                // the embedding output (layer 0)
  attention_probabilities = 2,  // softmax(q k^T) of every query head
  attention_output = 3,         // the attention branch before its residual add
  mlp_output = 4,               // the MLP branch before its residual add
};

// The stream one (site, layer) draws from in one step.
std::uint64_t dropoutStream(const DropoutContext& context, DropoutSite site, int layer);

// Where a local block sits in the full tensor. Dim 0 is the sample dimension, unbounded: local row
// b is global sample first_sample + b. For dims 1.., the block starts at offsets[d - 1] of a full
// dimension of size full_sizes[d - 1].
struct FullTensorSlice {
  std::int64_t first_sample = 0;
  std::vector<std::int64_t> offsets;
  std::vector<std::int64_t> full_sizes;
};

// The dropped elements (true) of a block of shape `sizes` placed as `slice` says: element e is
// dropped when counterHash(stream, e's row-major index in the full tensor) falls in the lowest
// fraction p of the 53-bit range. Throws std::invalid_argument when the slice does not fit the
// shape or p is outside [0, 1).
at::Tensor droppedMask(at::IntArrayRef sizes, const FullTensorSlice& slice, std::uint64_t stream, double p);

// Inverted dropout of x with that mask: dropped elements 0, kept ones scaled by 1 / (1 - p).
// Differentiable in x; backward applies the same mask (autograd keeps only the 1-byte mask).
at::Tensor applyDropout(const at::Tensor& x, const FullTensorSlice& slice, std::uint64_t stream, double p);

// The dropout of one forward pass of a (possibly sharded) model: the probability (0 when off:
// eval mode or model.dropout 0), the trainer's context and where this rank's activations sit.
struct ForwardDropout {
  double p = 0.0;
  DropoutContext context;
  // The global positions of the residual stream's local tokens (sp shard, Megatron-SP slice).
  SequenceSegments segments;
  std::int64_t full_length = 0;  // the whole sequence length
  int head_shard = 0;    // this rank's block of query heads (tp rank; under Ulysses tp rank * sp + sp rank)
  int head_shards = 1;   // blocks the query heads are split into (tp; under Ulysses tp * sp)
  // 2D / 2.5D / 3D tensor parallelism split the batch and the features too: the residual stream's
  // local row 0 is sample context.first_sample + residual_sample_offset and its features start at
  // feature_offset of full_features (0: the local width is the whole); the attention's local row
  // 0 is sample context.first_sample + attention_sample_offset.
  std::int64_t residual_sample_offset = 0;
  std::int64_t feature_offset = 0;
  std::int64_t full_features = 0;
  std::int64_t attention_sample_offset = 0;

  bool active() const { return p > 0.0; }
  // x [B, T_local, d]: the residual stream, its positions `segments`.
  at::Tensor residual(const at::Tensor& x, DropoutSite site, int layer) const;
  // probabilities [B, H_local, T, T] of this rank's query heads over the whole sequence.
  at::Tensor attention(const at::Tensor& probabilities, int layer) const;
  // The same mask one block of query and key positions at a time (blockwise and ring attention),
  // for blocks of `local_heads` query heads.
  AttentionBlockDropout attentionBlocks(int layer, std::int64_t local_heads) const;
};

}  // namespace behemoth
