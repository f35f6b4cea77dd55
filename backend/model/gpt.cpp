#include "backend/model/gpt.h"

#include <ATen/ATen.h>

#include <cmath>

#include "backend/model/attention.h"
#include "backend/model/fused_ops.h"
#include "backend/model/recompute.h"

namespace behemoth {

namespace {

std::shared_ptr<LayerNorm> makeLayerNorm(const ModelConfig& config) {
  return std::make_shared<LayerNorm>(config.d_model, config.norm_eps, config.kernels == KernelKind::fused);
}

// [B, T, heads * D] -> [B, heads, T, D]
at::Tensor splitHeads(const at::Tensor& x, std::int64_t head_dim) {
  return x.view({x.size(0), x.size(1), -1, head_dim}).transpose(1, 2);
}

}  // namespace

GptAttention::GptAttention(const ModelConfig& config) : head_dim_(config.headDim()) {
  addLinear("qkv", std::make_shared<DenseLinear>(config.d_model, 3 * config.d_model, true));
  addLinear("proj", std::make_shared<DenseLinear>(config.d_model, config.d_model, true));
}

at::Tensor GptAttention::forward(const at::Tensor& x, const ForwardDropout& dropout, int layer,
                                 const AttentionSettings& attention) {
  // The head count is read off the projection's width, so a tensor-parallel qkv that yields only
  // this rank's heads works unchanged.
  const auto parts = linear("qkv").forward(x).chunk(3, -1);
  const at::Tensor attended = attentionCore(splitHeads(parts[0], head_dim_), splitHeads(parts[1], head_dim_),
                                            splitHeads(parts[2], head_dim_), dropout, layer, attention);
  // attended spans the whole sequence even where x is a sequence shard (sequence parallelism).
  const at::Tensor merged = attended.transpose(1, 2).reshape({x.size(0), attended.size(2), -1});
  return linear("proj").forward(merged);
}

GptMlp::GptMlp(const ModelConfig& config) : fused_(config.kernels == KernelKind::fused) {
  addLinear("fc", std::make_shared<DenseLinear>(config.d_model, config.ffnHidden(), true));
  addLinear("proj", std::make_shared<DenseLinear>(config.ffnHidden(), config.d_model, true));
}

at::Tensor GptMlp::forward(const at::Tensor& x) {
  const at::Tensor hidden = linear("fc").forward(x);
  // The bias is already in `hidden` (addmm adds it for free), so the fused GELU takes none.
  const at::Tensor activated = fused_ && fusedKernelsTake(hidden) ? fusedGelu(hidden) : at::gelu(hidden, "tanh");
  return linear("proj").forward(activated);
}

GptBlock::GptBlock(const ModelConfig& config, int layer) : layer_(layer) {
  addNorm("ln1", makeLayerNorm(config));
  attn_ = register_module("attn", std::make_shared<GptAttention>(config));
  addNorm("ln2", makeLayerNorm(config));
  mlp_ = register_module("mlp", std::make_shared<GptMlp>(config));
}

at::Tensor GptBlock::forward(const at::Tensor& x, const ForwardDropout& dropout, const AttentionSettings& attention) {
  const at::Tensor attended = attn_->forward(norm("ln1").forward(x), dropout, layer_, attention);
  const auto [h, normalized] = norm("ln2").addThenNormalize(x, dropout.residual(attended, DropoutSite::attention_output, layer_));
  return h + dropout.residual(mlp_->forward(normalized), DropoutSite::mlp_output, layer_);
}

GptModel::GptModel(const ModelConfig& config, const ModelPart& part) : LanguageModel(config, part) {
  if (holdsTokenEmbedding()) {
    tok_emb_ = register_module("tok_emb", std::make_shared<Embedding>(config.vocab_size, config.d_model));
  }
  if (holdsEmbedding()) pos_emb_ = register_module("pos_emb", std::make_shared<Embedding>(config.seq_len, config.d_model));
  // Children named by their block index, so a stage's parameters keep the whole model's names.
  auto blocks = register_module("blocks", std::make_shared<torch::nn::Module>());
  for (const BlockRange& range : chunks()) {
    for (int index = range.first; index < range.end(); ++index) {
      blocks_[index] = blocks->register_module(std::to_string(index), std::make_shared<GptBlock>(config, index));
    }
  }
  if (holdsHead()) {
    addNorm("ln_f", makeLayerNorm(config));
    if (!config.tie_embeddings) {
      addLinear("lm_head", std::make_shared<DenseLinear>(config.d_model, config.vocab_size, false));
    }
  }
}

at::Tensor GptModel::embed(const at::Tensor& tokens) {
  checkTokens(tokens);
  // Under sequence parallelism the token embedding arrives as this rank's sequence shard.
  const at::Tensor token_rows = tok_emb_->forward(tokens);
  const at::Tensor positions = tokenPositions(token_rows);
  return forwardDropout(token_rows).residual(token_rows + pos_emb_->forward(positions), DropoutSite::embedding, 0);
}

at::Tensor GptModel::block(int index, const at::Tensor& hidden) {
  const ForwardDropout dropout = forwardDropout(hidden);
  if (recompute() != Recompute::full) {
    return blocks_.at(index)->forward(hidden, dropout, attentionSettings(hidden, recompute() == Recompute::selective));
  }
  // The region holds the block and this forward's dropout by value: it runs again in backward,
  // when the model's dropout context may describe another micro-batch.
  const std::shared_ptr<GptBlock> block = blocks_.at(index);
  const AttentionSettings attention = attentionSettings(hidden, /*recompute_core=*/false);
  const auto region = [block, dropout, attention](const std::vector<at::Tensor>& input) {
    return std::vector<at::Tensor>{block->forward(input[0], dropout, attention)};
  };
  return recomputeInBackward(region, {hidden}).front();
}

at::Tensor GptModel::head(const at::Tensor& hidden) {
  const at::Tensor normalized = norm("ln_f").forward(hidden);
  if (config().tie_embeddings) return outputProjection(normalized, tok_emb_->weight);
  return linear("lm_head").forward(normalized);
}

void GptModel::replaceTokenEmbedding(std::shared_ptr<Embedding> embedding) {
  tok_emb_ = replace_module("tok_emb", std::move(embedding));
}

void GptModel::replacePositionEmbedding(std::shared_ptr<Embedding> embedding) {
  pos_emb_ = replace_module("pos_emb", std::move(embedding));
}

InitRule GptModel::initRule(const std::string& name) const {
  if (endsWith(name, ".bias")) return {InitKind::zeros};
  const std::string owner = ownerModuleName(name);
  if (owner == "ln1" || owner == "ln2" || owner == "ln_f") return {InitKind::ones};
  // GPT-2: residual projections scaled by 1/sqrt(2 n_layer), two residual additions per block.
  if (endsWith(name, ".attn.proj.weight") || endsWith(name, ".mlp.proj.weight")) {
    return {InitKind::normal, config().init_std / std::sqrt(2.0 * config().n_layer)};
  }
  return {InitKind::normal, config().init_std};
}

}  // namespace behemoth
