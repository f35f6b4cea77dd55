// What the planner needs to know about a transformer language model, independent of the zoo that
// builds it: sizes in, parameter counts and FLOPs per token out. memory/ owns this plain struct so
// the memory and time models never depend on backend/ (backend/planning converts a ModelConfig).
#pragma once

#include <cstdint>
#include <string>

namespace behemoth {

enum class ModelFamily { gpt, llama };
std::string modelFamilyName(ModelFamily family);

struct ModelDescription {
  ModelFamily family = ModelFamily::gpt;
  int layers = 2;
  int d_model = 64;
  int heads = 4;
  int kv_heads = 4;          // grouped-query attention when smaller than heads
  int ffn_hidden = 256;      // width of the MLP (per expert)
  int vocab = 256;
  int seq_len = 64;          // tokens per sequence
  bool tied_embeddings = true;
  bool learned_positions = true;  // GPT: a position table of seq_len x d_model
  bool gated_mlp = false;    // SwiGLU: three matrices instead of two
  bool biases = true;        // linear layers carry biases (GPT) or not (LLaMA)
  bool norm_bias = true;     // LayerNorm (weight + bias) or RMSNorm (weight only)
  bool dropout = false;      // dropout layers store masks (1 byte per element) for backward
  int experts = 1;           // > 1: every MLP is a mixture of experts with a router
  int experts_per_token = 1; // top-k routing

  int headDim() const { return d_model / heads; }
  int kvWidth() const { return kv_heads * headDim(); }
  // Throws std::invalid_argument naming the field that cannot work.
  void validate() const;
};

// Parameter counts by layer type. Per-layer entries are for ONE transformer block.
struct ParameterCounts {
  std::int64_t token_embedding = 0;
  std::int64_t position_embedding = 0;
  std::int64_t attention = 0;      // q, k, v, output projections (+ biases)
  std::int64_t mlp = 0;            // all experts plus the router
  std::int64_t norms = 0;          // the block's two norms
  std::int64_t final_norm = 0;
  std::int64_t head = 0;           // untied output projection; 0 when tied
  std::int64_t perLayer() const { return attention + mlp + norms; }
  std::int64_t total(int layers) const {
    return token_embedding + position_embedding + layers * perLayer() + final_norm + head;
  }
};

ParameterCounts parameterCounts(const ModelDescription& model);
std::int64_t totalParameters(const ModelDescription& model);

// Floating-point operations per token (one multiply-add = 2 FLOPs). Attention scores are counted
// over the full sequence (no causal halving), as Megatron and PaLM count them for MFU.
struct FlopsPerToken {
  double forward = 0;           // matmuls + attention scores/values
  double backward = 0;          // twice the forward
  double recompute_full = 0;    // extra forward when every layer is recomputed
  double recompute_selective = 0;  // extra attention-core forward (QK^T, softmax.V)
  double attention_core = 0;    // part of forward in QK^T and scores.V
  // FLOPs the model needs (MFU numerator): forward + backward, no recomputation.
  double model() const { return forward + backward; }
};

FlopsPerToken flopsPerToken(const ModelDescription& model);

}  // namespace behemoth
