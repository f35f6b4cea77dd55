// Activation memory: the bytes a transformer keeps from forward for backward.
//
// Counted tensor by tensor as Korthikanti et al. (arXiv 2205.05198, section 4.1) count them; with
// their assumptions (16-bit activations, dropout, a GeLU MLP of width 4h, a = heads, full
// multi-head attention) one layer holds s*b*h*(34 + 5*a*s/h) bytes: 10sbh outside the tensor-
// parallel region (norm inputs, the inputs of the QKV and first MLP matmuls, two dropout masks),
// 24sbh inside it (Q, K, V, the attention output, the MLP's two 4h-wide tensors) and 5as^2b of
// attention scores (softmax output, its dropout mask and output). The generalisation:
//   - element size e (2 or 4 bytes) replaces the 2; dropout masks stay 1 byte and vanish without dropout;
//   - K and V are kv_heads*head_dim wide (grouped-query attention);
//   - a SwiGLU MLP keeps four f-wide tensors (gate, up, silu(gate), their product) instead of two;
//   - without dropout the softmax output is the only s x s tensor (e*a*s^2*b);
//   - fused (flash) attention keeps no s x s tensor, only a 4-byte log-sum-exp per head and token;
//   - mixture of experts: each token's MLP activations are kept once per routed expert (top-k).
// Parallelism (Megatron 1D): the inside part and the scores divide by t; the outside part divides
// by t only with sequence parallelism. 2D/2.5D/3D tensor parallelism partitions every activation
// over the whole tp group (the papers' layouts split batch/sequence and hidden over the grid).
// A context-parallel sp axis (Ulysses or ring) divides everything by sp. Recomputation: selective
// drops the scores (recomputed in backward); full keeps only each layer's input.
#pragma once

#include <cstdint>

#include "memory/model_description.h"
#include "memory/training_layout.h"

namespace behemoth {

// One transformer block, one micro-batch of `micro_batch` sequences, no parallelism.
struct LayerActivationParts {
  std::int64_t outside_tp = 0;   // Megatron's 10sbh
  std::int64_t inside_tp = 0;    // Megatron's 24sbh
  std::int64_t scores = 0;       // Megatron's 5as^2b
  std::int64_t layer_input = 0;  // what full recomputation keeps: e*s*b*h
  std::int64_t total() const { return outside_tp + inside_tp + scores; }
};

LayerActivationParts layerActivationParts(const ModelDescription& model, int micro_batch, int element_bytes,
                                          bool fused_attention, bool fused_gated_mlp = false);

// Per rank, per micro-batch, per layer, after the layout's tp / sp / Megatron-SP split.
// `recompute` may differ from the layout's (the search and the peak of full recomputation use it).
std::int64_t layerActivationBytes(const ModelDescription& model, const TrainingLayout& layout, Recompute recompute);
inline std::int64_t layerActivationBytes(const ModelDescription& model, const TrainingLayout& layout) {
  return layerActivationBytes(model, layout, layout.recompute);
}

// Per rank, per micro-batch: what the first stage keeps for the embedding (its dropout mask) and
// the last stage for the final norm, the output projection and the loss (logits and the fp32
// log-softmax the cross-entropy keeps; the vocabulary divides over tp).
std::int64_t embeddingActivationBytes(const ModelDescription& model, const TrainingLayout& layout);
std::int64_t headActivationBytes(const ModelDescription& model, const TrainingLayout& layout);

}  // namespace behemoth
