#include "backend/model/model_config.h"

#include <stdexcept>

namespace behemoth {

namespace {

// The LLaMA reference rule for the SwiGLU width: two thirds of 4*d_model, rounded up to 256.
int llamaDefaultFfn(int d_model) {
  constexpr int kMultipleOf = 256;
  const int hidden = static_cast<int>(2.0 * 4.0 * d_model / 3.0);
  return kMultipleOf * ((hidden + kMultipleOf - 1) / kMultipleOf);
}

void requirePositive(const char* field, std::int64_t value) {
  if (value <= 0) {
    throw std::invalid_argument(std::string("model.") + field + ": must be positive, got " + std::to_string(value));
  }
}

// Far beyond any model trained today, and low enough that no size computed from them overflows.
void requireAtMost(const char* field, std::int64_t value, std::int64_t limit) {
  if (value > limit) {
    throw std::invalid_argument(std::string("model.") + field + ": " + std::to_string(value) + " is beyond what the engine supports (at most " +
                                std::to_string(limit) + ")");
  }
}

}  // namespace

std::string archName(Arch arch) {
  switch (arch) {
    case Arch::gpt: return "gpt";
    case Arch::llama: return "llama";
  }
  throw std::invalid_argument("model.arch: unknown architecture value");
}

Arch archFromName(const std::string& name) {
  if (name == "gpt") return Arch::gpt;
  if (name == "llama") return Arch::llama;
  throw std::invalid_argument("model.arch: unknown architecture '" + name + "' (expected gpt or llama)");
}

std::string attentionKindName(AttentionKind kind) {
  switch (kind) {
    case AttentionKind::dense: return "dense";
    case AttentionKind::blockwise: return "blockwise";
    case AttentionKind::automatic: break;
  }
  return "auto";
}

AttentionKind attentionKindFromName(const std::string& name) {
  if (name == "dense") return AttentionKind::dense;
  if (name == "blockwise") return AttentionKind::blockwise;
  if (name == "auto") return AttentionKind::automatic;
  throw std::invalid_argument("model.attention: unknown attention '" + name + "' (expected auto, dense or blockwise)");
}

std::string kernelKindName(KernelKind kind) { return kind == KernelKind::aten ? "aten" : "fused"; }

KernelKind kernelKindFromName(const std::string& name) {
  if (name == "fused") return KernelKind::fused;
  if (name == "aten") return KernelKind::aten;
  throw std::invalid_argument("model.kernels: unknown kernels '" + name + "' (expected fused or aten)");
}

AttentionKind ModelConfig::resolvedAttention() const {
  if (attention != AttentionKind::automatic) return attention;
  return seq_len > attention_block ? AttentionKind::blockwise : AttentionKind::dense;
}

int ModelConfig::ffnHidden() const {
  if (d_ff > 0) return d_ff;
  return arch == Arch::gpt ? 4 * d_model : llamaDefaultFfn(d_model);
}

std::int64_t ModelConfig::parameterCount() const {
  const std::int64_t d = d_model;
  const std::int64_t ff = ffnHidden();
  const std::int64_t vocab = vocab_size;
  const std::int64_t head = tie_embeddings ? 0 : vocab * d;
  if (arch == Arch::gpt) {
    const std::int64_t layer_norms = 2 * (2 * d);
    const std::int64_t attention = (d * 3 * d + 3 * d) + (d * d + d);
    const std::int64_t mlp = (d * ff + ff) + (ff * d + d);
    const std::int64_t block = layer_norms + attention + mlp;
    return vocab * d + std::int64_t{seq_len} * d + n_layer * block + 2 * d + head;
  }
  const std::int64_t kv_width = std::int64_t{kvHeads()} * headDim();
  const std::int64_t attention = d * d + 2 * d * kv_width + d * d;
  const std::int64_t mlp = 3 * d * ff;
  const std::int64_t block = 2 * d + attention + mlp;
  return vocab * d + n_layer * block + d + head;
}

void ModelConfig::validate() const {
  requirePositive("n_layer", n_layer);
  requirePositive("n_head", n_head);
  requirePositive("d_model", d_model);
  requirePositive("seq_len", seq_len);
  requirePositive("vocab_size", vocab_size);
  requirePositive("attention_block", attention_block);
  requireAtMost("attention_block", attention_block, kMaxSequence);
  requireAtMost("n_layer", n_layer, kMaxLayers);
  requireAtMost("n_head", n_head, kMaxHeads);
  requireAtMost("d_model", d_model, kMaxWidth);
  requireAtMost("d_ff", d_ff, kMaxFfnWidth);
  requireAtMost("seq_len", seq_len, kMaxSequence);
  requireAtMost("vocab_size", vocab_size, kMaxVocabulary);
  if (d_model % n_head != 0) {
    throw std::invalid_argument("model.n_head: " + std::to_string(n_head) + " does not divide model.d_model = " +
                                std::to_string(d_model));
  }
  if (n_kv_head != -1) {
    requirePositive("n_kv_head", n_kv_head);
    if (n_head % n_kv_head != 0) {
      throw std::invalid_argument("model.n_kv_head: " + std::to_string(n_kv_head) +
                                  " does not divide model.n_head = " + std::to_string(n_head));
    }
    if (arch == Arch::gpt && n_kv_head != n_head) {
      throw std::invalid_argument("model.n_kv_head: grouped-query attention needs arch llama; gpt uses n_kv_head = n_head");
    }
  }
  if (d_ff != -1) requirePositive("d_ff", d_ff);
  if (!(norm_eps > 0.0)) throw std::invalid_argument("model.norm_eps: must be positive, got " + std::to_string(norm_eps));
  if (!(init_std > 0.0)) throw std::invalid_argument("model.init_std: must be positive, got " + std::to_string(init_std));
  if (!(dropout >= 0.0 && dropout < 1.0)) {
    throw std::invalid_argument("model.dropout: must be in [0, 1), got " + std::to_string(dropout));
  }
  if (arch == Arch::llama) {
    if (!(rope_theta > 0.0)) {
      throw std::invalid_argument("model.rope_theta: must be positive, got " + std::to_string(rope_theta));
    }
    if (headDim() % 2 != 0) {
      throw std::invalid_argument("model.d_model: head dimension " + std::to_string(headDim()) +
                                  " (d_model / n_head) must be even for rotary embeddings");
    }
  }
}

}  // namespace behemoth
