#include "memory/activation_memory.h"

namespace behemoth {
namespace {

std::int64_t localTokens(const ModelDescription& model, const TrainingLayout& layout) {
  return std::int64_t{layout.micro_batch_size} * model.seq_len / layout.sp;
}

// What the tensor-parallel layout divides each part by (Megatron 1D vs the 2D/2.5D/3D grids).
struct TensorSplit {
  int outside = 1;
  int inside = 1;
};

// Megatron-SP keeps the QKV and MLP inputs (and the head's) as sequence shards and re-gathers
// them in backward, as the engine does (parallel/tensor_parallel): they are part of `outside`.
TensorSplit tensorSplit(const TrainingLayout& layout) {
  if (layout.tensor_mode != TensorMode::one_d) return {layout.tp, layout.tp};
  return {layout.sequence_parallel ? layout.tp : 1, layout.tp};
}

}  // namespace

LayerActivationParts layerActivationParts(const ModelDescription& m, int micro_batch, int e, bool fused_attention,
                                          bool fused_gated_mlp) {
  const std::int64_t tokens = std::int64_t{micro_batch} * m.seq_len;  // s*b
  const std::int64_t h = m.d_model;
  const std::int64_t kv = m.kvWidth();
  const std::int64_t f = m.ffn_hidden;
  const std::int64_t mask = m.dropout ? 1 : 0;
  LayerActivationParts parts;
  // Two norm inputs, the QKV input, the MLP input (e*sbh each) and two dropout masks (sbh each).
  parts.outside_tp = 4 * e * tokens * h + 2 * mask * tokens * h;
  // Q (h wide), K and V (kv wide), the attention output feeding the output projection.
  const std::int64_t attention = e * tokens * (2 * h + 2 * kv);
  // GELU: its input and output. SwiGLU: gate, up, silu(gate) and the product; fused, no silu(gate).
  const std::int64_t mlp_tensors = m.gated_mlp ? (fused_gated_mlp ? 3 : 4) : 2;
  const std::int64_t mlp = std::int64_t{m.experts_per_token} * mlp_tensors * e * tokens * f;
  parts.inside_tp = attention + mlp;
  if (fused_attention) {
    parts.scores = 4 * std::int64_t{m.heads} * tokens;
  } else {
    const std::int64_t score_elements = std::int64_t{m.heads} * m.seq_len * tokens;  // a*s^2*b
    parts.scores = m.dropout ? (2 * e + mask) * score_elements : e * score_elements;
  }
  parts.layer_input = e * tokens * h;
  return parts;
}

std::int64_t layerActivationBytes(const ModelDescription& m, const TrainingLayout& layout, Recompute recompute) {
  const LayerActivationParts parts =
      layerActivationParts(m, layout.micro_batch_size, layout.activationBytes(), layout.fused_attention, layout.fused_gated_mlp);
  const TensorSplit split = tensorSplit(layout);
  if (recompute == Recompute::full) return parts.layer_input / split.outside / layout.sp;
  std::int64_t bytes = parts.outside_tp / split.outside + parts.inside_tp / split.inside;
  // Selective recomputation drops the dense scores; blockwise attention keeps only its
  // log-sum-exp and ignores it (there is nothing left to recompute).
  if (recompute == Recompute::none || layout.fused_attention) bytes += parts.scores / split.inside;
  if (layout.sp > 1 && layout.context_mode == ContextMode::ulysses && layout.fused_attention) {
    // Ulysses around blockwise attention keeps the attention output twice: the core saves its
    // head shard of the whole sequence, the output projection its sequence shard of every head.
    bytes += layout.activationBytes() * std::int64_t{layout.micro_batch_size} * m.seq_len * m.d_model / split.inside;
  }
  return bytes / layout.sp;
}

std::int64_t embeddingActivationBytes(const ModelDescription& m, const TrainingLayout& layout) {
  if (!m.dropout) return 0;
  return localTokens(m, layout) * m.d_model / tensorSplit(layout).outside;
}

std::int64_t headActivationBytes(const ModelDescription& m, const TrainingLayout& layout) {
  const std::int64_t tokens = localTokens(m, layout);
  const std::int64_t e = layout.activationBytes();
  const TensorSplit split = tensorSplit(layout);
  const std::int64_t norm_and_head_inputs = 2 * e * tokens * m.d_model / split.outside;
  const std::int64_t logits = (e + 4) * tokens * m.vocab / layout.tp;
  return norm_and_head_inputs + logits;
}

}  // namespace behemoth
