// LLaMA style decoder: RMSNorm, rotary position embeddings on q and k (Hugging Face rotate_half
// convention), grouped-query attention, a SwiGLU MLP, no biases, an untied LM head unless
// tie_embeddings.
//
// Parameters: tok_emb.weight [V, d], blocks.{i}.attn_norm.weight [d],
//   blocks.{i}.attn.q.weight [H*D, d], blocks.{i}.attn.k.weight [Hkv*D, d],
//   blocks.{i}.attn.v.weight [Hkv*D, d], blocks.{i}.attn.o.weight [d, H*D],
//   blocks.{i}.mlp_norm.weight [d], blocks.{i}.mlp.gate.weight [ff, d], blocks.{i}.mlp.up.weight [ff, d],
//   blocks.{i}.mlp.down.weight [d, ff], norm_f.weight [d], and lm_head.weight [V, d] unless tied.
#pragma once

#include <map>
#include <memory>

#include "backend/model/attention.h"
#include "backend/model/dropout.h"
#include "backend/model/language_model.h"
#include "backend/model/layers.h"

namespace behemoth {

class LlamaAttention : public LinearOwner {
 public:
  explicit LlamaAttention(const ModelConfig& config);
  // `attention`: how the core runs (dense or blockwise, across the sp group; see attentionCore).
  at::Tensor forward(const at::Tensor& x, const RotaryTables& rotary, const ForwardDropout& dropout, int layer,
                     const AttentionSettings& attention);

 private:
  // q or k's heads rotated by the tables: one fused pass, or ATen's composition.
  at::Tensor rotate(const at::Tensor& heads, const RotaryTables& rotary) const;

  std::int64_t head_dim_;
  bool fused_;  // model.kernels: fused
};

class LlamaMlp : public LinearOwner {
 public:
  explicit LlamaMlp(const ModelConfig& config);
  at::Tensor forward(const at::Tensor& x);

 private:
  bool fused_;  // model.kernels: fused
};

class LlamaBlock : public LinearOwner {
 public:
  LlamaBlock(const ModelConfig& config, int layer);
  at::Tensor forward(const at::Tensor& x, const RotaryTables& rotary, const ForwardDropout& dropout,
                     const AttentionSettings& attention);

 private:
  std::shared_ptr<LlamaAttention> attn_;
  std::shared_ptr<LlamaMlp> mlp_;
  int layer_;
};

class LlamaModel : public LanguageModel {
 public:
  LlamaModel(const ModelConfig& config, const ModelPart& part);

  at::Tensor embed(const at::Tensor& tokens) override;
  at::Tensor block(int index, const at::Tensor& hidden) override;
  at::Tensor head(const at::Tensor& hidden) override;
  InitRule initRule(const std::string& name) const override;
  void replaceTokenEmbedding(std::shared_ptr<Embedding> embedding) override;

 private:
  std::shared_ptr<Embedding> tok_emb_;
  std::map<int, std::shared_ptr<LlamaBlock>> blocks_;  // by block index: the ones this rank holds
};

}  // namespace behemoth
