// Sizes of a zoo model. Filled from the project's `model` section or a Hugging Face config.json.
#pragma once

#include <cstdint>
#include <string>

namespace behemoth {

enum class Arch { gpt, llama };

// How a block computes causal attention (docs/long-context.md): dense materialises the [T, T]
// scores; blockwise walks query and key blocks with an online softmax and never holds them;
// automatic (model.attention "auto", the default) takes blockwise wherever the sequence spans more
// than one block, where it is the faster of the two on this machine (BENCHMARKS.md), dense otherwise.
enum class AttentionKind { dense, blockwise, automatic };
// model.kernels: the fused CPU kernels (backend/model/fused_ops.h) or ATen's operators.
enum class KernelKind { fused, aten };

// Upper bounds of the sizes (ModelConfig::validate): far beyond any model trained today, and low
// enough that no byte or FLOP count computed from them overflows 64 bits.
inline constexpr int kMaxLayers = 16384;
inline constexpr int kMaxHeads = 16384;
inline constexpr int kMaxWidth = 1 << 18;
inline constexpr int kMaxFfnWidth = 1 << 20;
inline constexpr int kMaxSequence = 1 << 24;
inline constexpr int kMaxVocabulary = 1 << 24;

struct ModelConfig {
  Arch arch = Arch::gpt;
  int n_layer = 2;
  int n_head = 4;
  int n_kv_head = -1;        // -1: same as n_head (LLaMA grouped-query attention when smaller)
  int d_model = 64;
  int d_ff = -1;             // -1: 4*d_model for GPT, SwiGLU's rounded 8/3*d_model for LLaMA
  int seq_len = 64;          // context length (positions for GPT, rotary cache for LLaMA)
  int vocab_size = 256;
  double norm_eps = 1e-5;
  double rope_theta = 10000.0;
  bool tie_embeddings = true;  // GPT-2 ties; LLaMA configs say per model (default false there)
  double dropout = 0.0;
  double init_std = 0.02;
  AttentionKind attention = AttentionKind::automatic;
  int attention_block = 128;  // query and key block length of the blockwise attention
  KernelKind kernels = KernelKind::fused;

  int kvHeads() const { return n_kv_head > 0 ? n_kv_head : n_head; }
  // dense or blockwise: what `attention` means for these sizes.
  AttentionKind resolvedAttention() const;
  int headDim() const { return d_model / n_head; }
  int ffnHidden() const;
  // Exact parameter count of the model these sizes build.
  std::int64_t parameterCount() const;
  // Throws std::invalid_argument naming the `model.*` field that cannot work.
  void validate() const;
};

std::string archName(Arch arch);
Arch archFromName(const std::string& name);  // throws std::invalid_argument
std::string attentionKindName(AttentionKind kind);
AttentionKind attentionKindFromName(const std::string& name);  // throws std::invalid_argument
std::string kernelKindName(KernelKind kind);
KernelKind kernelKindFromName(const std::string& name);  // throws std::invalid_argument naming model.kernels

}  // namespace behemoth
