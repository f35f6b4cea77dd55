#include "memory/model_description.h"

#include <stdexcept>

namespace behemoth {
namespace {

void requirePositive(const char* field, std::int64_t value) {
  if (value <= 0) {
    throw std::invalid_argument(std::string("model.") + field + ": must be positive, got " + std::to_string(value));
  }
}

// Weights of one expert's MLP (no biases).
std::int64_t expertMatrixWeights(const ModelDescription& m) {
  const std::int64_t d = m.d_model;
  const std::int64_t f = m.ffn_hidden;
  return (m.gated_mlp ? 3 : 2) * d * f;
}

std::int64_t expertBiases(const ModelDescription& m) {
  if (!m.biases) return 0;
  const std::int64_t f = m.ffn_hidden;
  return (m.gated_mlp ? 2 * f : f) + m.d_model;
}

std::int64_t attentionMatrixWeights(const ModelDescription& m) {
  const std::int64_t d = m.d_model;
  return 2 * d * d + 2 * d * m.kvWidth();
}

}  // namespace

std::string modelFamilyName(ModelFamily family) { return family == ModelFamily::gpt ? "gpt" : "llama"; }

void ModelDescription::validate() const {
  requirePositive("n_layer", layers);
  requirePositive("d_model", d_model);
  requirePositive("n_head", heads);
  requirePositive("n_kv_head", kv_heads);
  requirePositive("d_ff", ffn_hidden);
  requirePositive("vocab_size", vocab);
  requirePositive("seq_len", seq_len);
  requirePositive("experts", experts);
  if (d_model % heads != 0) {
    throw std::invalid_argument("model.n_head: " + std::to_string(heads) + " does not divide model.d_model = " +
                                std::to_string(d_model));
  }
  if (heads % kv_heads != 0) {
    throw std::invalid_argument("model.n_kv_head: " + std::to_string(kv_heads) + " does not divide model.n_head = " +
                                std::to_string(heads));
  }
  if (experts_per_token < 1 || experts_per_token > experts) {
    throw std::invalid_argument("model.experts_per_token: must be in [1, experts = " + std::to_string(experts) +
                                "], got " + std::to_string(experts_per_token));
  }
}

ParameterCounts parameterCounts(const ModelDescription& m) {
  const std::int64_t d = m.d_model;
  const std::int64_t norm = m.norm_bias ? 2 * d : d;
  ParameterCounts counts;
  counts.token_embedding = std::int64_t{m.vocab} * d;
  counts.position_embedding = m.learned_positions ? std::int64_t{m.seq_len} * d : 0;
  counts.attention = attentionMatrixWeights(m) + (m.biases ? 2 * d + 2 * std::int64_t{m.kvWidth()} : 0);
  const std::int64_t router = m.experts > 1 ? d * m.experts : 0;
  counts.mlp = m.experts * (expertMatrixWeights(m) + expertBiases(m)) + router;
  counts.norms = 2 * norm;
  counts.final_norm = norm;
  counts.head = m.tied_embeddings ? 0 : std::int64_t{m.vocab} * d;
  return counts;
}

std::int64_t totalParameters(const ModelDescription& model) { return parameterCounts(model).total(model.layers); }

FlopsPerToken flopsPerToken(const ModelDescription& m) {
  const double d = m.d_model;
  const double router = m.experts > 1 ? d * m.experts : 0.0;
  const double layer_matmul_weights =
      double(attentionMatrixWeights(m)) + m.experts_per_token * double(expertMatrixWeights(m)) + router;
  // The output projection is a matmul whether or not its weight is tied to the embedding table;
  // the embedding lookup itself is not.
  const double head_weights = double(m.vocab) * d;
  FlopsPerToken flops;
  flops.attention_core = m.layers * 4.0 * m.seq_len * d;
  flops.forward = 2.0 * (m.layers * layer_matmul_weights + head_weights) + flops.attention_core;
  flops.backward = 2.0 * flops.forward;
  // Recomputation reruns the transformer blocks' forward, not the output projection.
  flops.recompute_full = 2.0 * m.layers * layer_matmul_weights + flops.attention_core;
  flops.recompute_selective = flops.attention_core;
  return flops;
}

}  // namespace behemoth
