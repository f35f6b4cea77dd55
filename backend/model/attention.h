// Attention math shared by the zoo models, written out explicitly (no fused kernel), so that it
// runs on every LibTorch version and is the reference the fused/parallel versions are tested against.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>

#include "backend/model/dropout.h"

namespace behemoth {

// softmax(q k^T / sqrt(head_dim) + causal mask) v for q [B, H, T, D], k and v [B, H, T, D].
// Query t attends to keys 0..t. `dropout` (when given and active) drops the probabilities of
// block `layer`; q holds this rank's query heads (see ForwardDropout).
at::Tensor causalAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           const ForwardDropout* dropout = nullptr, int layer = 0);

// Grouped-query attention: [B, H_kv, T, D] -> [B, H_kv * groups, T, D]; query head h reads
// key/value head h / groups (the Hugging Face repeat_kv order).
at::Tensor repeatKvHeads(const at::Tensor& kv, std::int64_t groups);

// causalAttention of q [B, H, T, D] over k and v [B, H_kv, T, D] repeated to H heads (grouped-query
// attention; H_kv = H is plain multi-head). With `recompute` (train.recompute selective) backward
// keeps only q, k and v: the repeated heads, scores, probabilities and dropout mask are computed
// again in backward instead of being saved.
at::Tensor attentionCore(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const ForwardDropout& dropout,
                         int layer, bool recompute);

// Rotary tables for positions first_position .. first_position + length - 1, each [length, head_dim]
// (the Hugging Face layout: frequencies repeated twice, computed in float32 as HF does).
struct RotaryTables {
  at::Tensor cos;
  at::Tensor sin;
};
RotaryTables rotaryTables(std::int64_t first_position, std::int64_t length, std::int64_t head_dim, double theta,
                          const at::TensorOptions& options);

// x * cos + rotate_half(x) * sin for x [B, H, T, D], rotate_half(x) = cat(-x[D/2:], x[:D/2]).
at::Tensor applyRotary(const at::Tensor& x, const RotaryTables& tables);

}  // namespace behemoth
