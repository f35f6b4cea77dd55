// Attention math shared by the zoo models, written out explicitly (no fused kernel), so that it
// runs on every LibTorch version and is the reference the fused/parallel versions are tested against.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>

#include "backend/model/dropout.h"
#include "backend/model/model_config.h"
#include "parallel/sequence_parallel/sequence_shard.h"

namespace behemoth {

// softmax(q k^T / sqrt(head_dim) + causal mask) v for q [B, H, T, D], k and v [B, H, T, D].
// Query t attends to keys 0..t. `dropout` (when given and active) drops the probabilities of
// block `layer`; q holds this rank's query heads (see ForwardDropout).
at::Tensor causalAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           const ForwardDropout* dropout = nullptr, int layer = 0);

// Grouped-query attention: [B, H_kv, T, D] -> [B, H_kv * groups, T, D]; query head h reads
// key/value head h / groups (the Hugging Face repeat_kv order).
at::Tensor repeatKvHeads(const at::Tensor& kv, std::int64_t groups);

// Attention against a KV cache, for serving (backend/serve/paged_attention.h): a forward's tokens are
// the new tokens of one or more sequences packed into one row [1, N], each at its own position.
class CachedAttention {
 public:
  virtual ~CachedAttention() = default;
  // The position of each of the step's N tokens (int64 [N]): GPT's position embedding, LLaMA's rotary angles.
  virtual at::Tensor positions() const = 0;
  // q [1, H, N, D], k and v [1, H_kv, N, D] of the step's tokens (rotary applied) -> [1, H, N, D]:
  // stores k and v in block `layer`'s cache and attends each query to its own sequence's cached
  // keys up to and including itself.
  virtual at::Tensor attend(int layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) = 0;
};

// How a block's attention core runs (the model fills it per forward).
struct AttentionSettings {
  AttentionKind kind = AttentionKind::dense;  // model.attention
  std::int64_t block = 128;                   // model.attention_block
  // train.recompute selective, for dense attention: backward keeps only q, k and v and computes the
  // scores again (blockwise attention never keeps them anyway).
  bool recompute = false;
  SequenceParallelContext sequence;  // attention across the sp group (docs/long-context.md)
  SequenceSegments segments;         // global positions of the local q, k and v (this rank's sp shard)
  CachedAttention* cache = nullptr;  // serving: attend through the KV cache instead (not owned)
};

// Causal attention of q [B, H, T, D] over k and v [B, H_kv, T, D] (grouped-query attention when
// H_kv < H; query head h reads key/value head h / (H / H_kv)). Without sp: dense (causalAttention
// over repeated heads) or blockwise (kernels/blockwise_attention.h). Under Ulysses, T is the local
// shard and an all-to-all gives each sp rank the whole sequence for 1/sp of the heads around the
// core; under ring, the key/value blocks travel the sp ring (parallel/sequence_parallel).
// Returns [B, H, T, D].
at::Tensor attentionCore(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const ForwardDropout& dropout,
                         int layer, const AttentionSettings& settings);

// Rotary tables for positions first_position .. first_position + length - 1, each [length, head_dim]
// (the Hugging Face layout: frequencies repeated twice, computed in float32 as HF does).
struct RotaryTables {
  at::Tensor cos;
  at::Tensor sin;
};
RotaryTables rotaryTables(std::int64_t first_position, std::int64_t length, std::int64_t head_dim, double theta,
                          const at::TensorOptions& options);
// The tables for arbitrary positions (an int64 tensor [length]: a zigzag sp shard's).
RotaryTables rotaryTables(const at::Tensor& positions, std::int64_t head_dim, double theta, const at::TensorOptions& options);

// x * cos + rotate_half(x) * sin for x [B, H, T, D], rotate_half(x) = cat(-x[D/2:], x[:D/2]).
at::Tensor applyRotary(const at::Tensor& x, const RotaryTables& tables);

}  // namespace behemoth
