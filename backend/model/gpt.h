// GPT-2 style decoder: learned token and position embeddings, pre-LayerNorm blocks with causal
// multi-head attention (fused qkv projection, laid out [q heads | k heads | v heads] as in GPT-2),
// a tanh-GELU MLP, a final LayerNorm and an LM head tied to the token embedding by default.
//
// Parameters: tok_emb.weight [V, d], pos_emb.weight [seq_len, d],
//   blocks.{i}.ln1.{weight,bias}, blocks.{i}.attn.qkv.{weight [3d, d], bias},
//   blocks.{i}.attn.proj.{weight [d, d], bias}, blocks.{i}.ln2.{weight,bias},
//   blocks.{i}.mlp.fc.{weight [ff, d], bias}, blocks.{i}.mlp.proj.{weight [d, ff], bias},
//   ln_f.{weight,bias}, and lm_head.weight [V, d] only when tie_embeddings is false.
#pragma once

#include <torch/nn/modules/normalization.h>

#include <map>
#include <memory>

#include "backend/model/attention.h"
#include "backend/model/dropout.h"
#include "backend/model/language_model.h"
#include "backend/model/layers.h"

namespace behemoth {

class GptAttention : public LinearOwner {
 public:
  explicit GptAttention(const ModelConfig& config);
  // `attention`: how the core runs (dense or blockwise, across the sp group; see attentionCore).
  at::Tensor forward(const at::Tensor& x, const ForwardDropout& dropout, int layer, const AttentionSettings& attention);

 private:
  std::int64_t head_dim_;
};

class GptMlp : public LinearOwner {
 public:
  explicit GptMlp(const ModelConfig& config);
  at::Tensor forward(const at::Tensor& x);

 private:
  bool fused_;  // model.kernels: fused
};

class GptBlock : public LinearOwner {
 public:
  GptBlock(const ModelConfig& config, int layer);
  at::Tensor forward(const at::Tensor& x, const ForwardDropout& dropout, const AttentionSettings& attention);

 private:
  std::shared_ptr<GptAttention> attn_;
  std::shared_ptr<GptMlp> mlp_;
  int layer_;
};

class GptModel : public LanguageModel {
 public:
  GptModel(const ModelConfig& config, const ModelPart& part);

  at::Tensor embed(const at::Tensor& tokens) override;
  at::Tensor block(int index, const at::Tensor& hidden) override;
  at::Tensor head(const at::Tensor& hidden) override;
  InitRule initRule(const std::string& name) const override;
  void replaceTokenEmbedding(std::shared_ptr<Embedding> embedding) override;
  void replacePositionEmbedding(std::shared_ptr<Embedding> embedding);

 private:
  std::shared_ptr<Embedding> tok_emb_;
  std::shared_ptr<Embedding> pos_emb_;
  std::map<int, std::shared_ptr<GptBlock>> blocks_;  // by block index: the ones this rank holds
};

}  // namespace behemoth
