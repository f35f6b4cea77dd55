// Causal attention over a whole sequence on one rank, block by block (attention_blocks.h): the
// [T, T] scores are never held, forward or backward, so memory grows linearly with the sequence
// and key blocks after a query block are skipped rather than computed and masked. Backward
// recomputes each block pair's probabilities from the saved log-sum-exp.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>

#include "kernels/attention_blocks.h"

namespace behemoth {

struct BlockwiseAttentionOptions {
  std::int64_t block = 128;  // query and key block length (the last block of each may be shorter)
  AttentionBlockDropout dropout;
};

// softmax(q k^T / sqrt(D) + causal mask) v for q [B, H, T, D] and k, v [B, Hkv, T, D] (H a multiple
// of Hkv: grouped-query attention, query head h reading key/value head h / (H / Hkv)), positions
// 0 .. T - 1. Returns [B, H, T, D] as a transposed view of a contiguous [B, T, H, D] tensor, so
// that merging the heads afterwards copies nothing. Differentiable in q, k and v; autograd keeps
// q, k, v, the output and one float32 log-sum-exp per query head and position.
at::Tensor blockwiseCausalAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                    const BlockwiseAttentionOptions& options);

// A token-major [B, T, H, D] tensor (the output's layout) seen as [B, Hkv, G, T, D], without copying.
at::Tensor groupedFromTokenMajor(const at::Tensor& x, std::int64_t kv_heads);

// The block [start, start + length) of a grouped query tensor [B, Hkv, G, T, D], made contiguous.
QueryBlock queryBlockOf(const at::Tensor& grouped_q, std::int64_t start, std::int64_t length, std::int64_t position);

}  // namespace behemoth
