// The zoo's common interface: a decoder-only language model built from a ModelConfig and a seed.
//
// Parameter names are stable (they are checkpoint keys); see docs/models.md for the full list.
// A model is a chain of stages -- embed, block 0 .. n_layer-1, head -- so pipeline stages and
// activation checkpointing can run parts of it.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>

#include "backend/model/init.h"
#include "backend/model/linear.h"
#include "backend/model/model_config.h"

namespace behemoth {

class LanguageModel : public LinearOwner {
 public:
  explicit LanguageModel(ModelConfig config);

  const ModelConfig& config() const { return config_; }

  // tokens [B, T] int64 (T <= seq_len) -> logits [B, T, vocab_size].
  at::Tensor forward(const at::Tensor& tokens);

  // tokens [B, T] -> hidden [B, T, d_model].
  virtual at::Tensor embed(const at::Tensor& tokens) = 0;
  // Transformer block `index` (0-based): hidden [B, T, d_model] -> hidden.
  virtual at::Tensor block(int index, const at::Tensor& hidden) = 0;
  // Final norm and language-model head: hidden -> logits [B, T, vocab_size].
  virtual at::Tensor head(const at::Tensor& hidden) = 0;

  // How the parameter called `name` is initialized (used once after construction).
  virtual InitRule initRule(const std::string& name) const = 0;

 protected:
  // Throws std::invalid_argument when tokens are not [B, T] with 1 <= T <= seq_len.
  void checkTokens(const at::Tensor& tokens) const;

 private:
  ModelConfig config_;
};

// Mean cross-entropy over every token: logits [B, T, V], targets [B, T] int64.
at::Tensor lossFromLogits(const at::Tensor& logits, const at::Tensor& targets);

// Validates `config`, builds the architecture it names and initializes every parameter from
// (seed, parameter name) only -- see backend/model/init.h.
std::shared_ptr<LanguageModel> buildModel(const ModelConfig& config, std::uint64_t seed);

}  // namespace behemoth
