#include "backend/model/llama.h"

#include <ATen/ATen.h>

#include "backend/model/fused_ops.h"
#include "backend/model/recompute.h"

namespace behemoth {

namespace {

// [B, T, heads * D] -> [B, heads, T, D]
at::Tensor splitHeads(const at::Tensor& x, std::int64_t head_dim) {
  return x.view({x.size(0), x.size(1), -1, head_dim}).transpose(1, 2);
}

}  // namespace

LlamaAttention::LlamaAttention(const ModelConfig& config)
    : head_dim_(config.headDim()), fused_(config.kernels == KernelKind::fused) {
  const std::int64_t q_width = std::int64_t{config.n_head} * head_dim_;
  const std::int64_t kv_width = std::int64_t{config.kvHeads()} * head_dim_;
  addLinear("q", std::make_shared<DenseLinear>(config.d_model, q_width, false));
  addLinear("k", std::make_shared<DenseLinear>(config.d_model, kv_width, false));
  addLinear("v", std::make_shared<DenseLinear>(config.d_model, kv_width, false));
  addLinear("o", std::make_shared<DenseLinear>(q_width, config.d_model, false));
}

at::Tensor LlamaAttention::forward(const at::Tensor& x, const RotaryTables& rotary, const ForwardDropout& dropout,
                                   int layer, const AttentionSettings& attention) {
  // Head counts come from the projections' widths, so tensor-parallel shards work unchanged.
  // q, k and v read one prepared input (under tensor parallelism: one collective, not three).
  const at::Tensor input = linear("q").prepareInput(x);
  const at::Tensor q = rotate(splitHeads(linear("q").forwardPrepared(input), head_dim_), rotary);
  const at::Tensor k = rotate(splitHeads(linear("k").forwardPrepared(input), head_dim_), rotary);
  const at::Tensor v = splitHeads(linear("v").forwardPrepared(input), head_dim_);
  const at::Tensor attended = attentionCore(q, k, v, dropout, layer, attention);
  // attended spans the whole sequence even where x is a sequence shard (sequence parallelism).
  return linear("o").forward(attended.transpose(1, 2).reshape({x.size(0), attended.size(2), -1}));
}

at::Tensor LlamaAttention::rotate(const at::Tensor& heads, const RotaryTables& rotary) const {
  const bool fuse = fused_ && fusedKernelsTake(heads) && rotary.cos.scalar_type() == heads.scalar_type();
  // Without autograd the fused rotation overwrites the heads: nothing else reads the projection.
  return fuse ? fusedRotary(heads, rotary.cos, rotary.sin) : applyRotary(heads, rotary);
}

LlamaMlp::LlamaMlp(const ModelConfig& config) : fused_(config.kernels == KernelKind::fused) {
  addLinear("gate", std::make_shared<DenseLinear>(config.d_model, config.ffnHidden(), false));
  addLinear("up", std::make_shared<DenseLinear>(config.d_model, config.ffnHidden(), false));
  addLinear("down", std::make_shared<DenseLinear>(config.ffnHidden(), config.d_model, false));
}

at::Tensor LlamaMlp::forward(const at::Tensor& x) {
  const at::Tensor input = linear("gate").prepareInput(x);
  const at::Tensor gate = linear("gate").forwardPrepared(input);
  const at::Tensor up = linear("up").forwardPrepared(input);
  const bool fuse = fused_ && fusedKernelsTake(gate) && up.scalar_type() == gate.scalar_type();
  return linear("down").forward(fuse ? fusedSwiglu(gate, up) : at::silu(gate) * up);
}

LlamaBlock::LlamaBlock(const ModelConfig& config, int layer) : layer_(layer) {
  addNorm("attn_norm", std::make_shared<RmsNorm>(config.d_model, config.norm_eps, config.kernels == KernelKind::fused));
  attn_ = register_module("attn", std::make_shared<LlamaAttention>(config));
  addNorm("mlp_norm", std::make_shared<RmsNorm>(config.d_model, config.norm_eps, config.kernels == KernelKind::fused));
  mlp_ = register_module("mlp", std::make_shared<LlamaMlp>(config));
}

at::Tensor LlamaBlock::forward(const at::Tensor& x, const RotaryTables& rotary, const ForwardDropout& dropout,
                               const AttentionSettings& attention) {
  const at::Tensor attended = attn_->forward(norm("attn_norm").forward(x), rotary, dropout, layer_, attention);
  const auto [h, normalized] = norm("mlp_norm").addThenNormalize(x, dropout.residual(attended, DropoutSite::attention_output, layer_));
  return h + dropout.residual(mlp_->forward(normalized), DropoutSite::mlp_output, layer_);
}

LlamaModel::LlamaModel(const ModelConfig& config, const ModelPart& part) : LanguageModel(config, part) {
  if (holdsTokenEmbedding()) {
    tok_emb_ = register_module("tok_emb", std::make_shared<Embedding>(config.vocab_size, config.d_model));
  }
  // Children named by their block index, so a stage's parameters keep the whole model's names.
  auto blocks = register_module("blocks", std::make_shared<torch::nn::Module>());
  for (const BlockRange& range : chunks()) {
    for (int index = range.first; index < range.end(); ++index) {
      blocks_[index] = blocks->register_module(std::to_string(index), std::make_shared<LlamaBlock>(config, index));
    }
  }
  if (holdsHead()) {
    addNorm("norm_f", std::make_shared<RmsNorm>(config.d_model, config.norm_eps, config.kernels == KernelKind::fused));
    if (!config.tie_embeddings) {
      addLinear("lm_head", std::make_shared<DenseLinear>(config.d_model, config.vocab_size, false));
    }
  }
}

at::Tensor LlamaModel::embed(const at::Tensor& tokens) {
  checkTokens(tokens);
  // Under sequence parallelism the embedding arrives as this rank's sequence shard.
  const at::Tensor embedded = tok_emb_->forward(tokens);
  return forwardDropout(embedded).residual(embedded, DropoutSite::embedding, 0);
}

at::Tensor LlamaModel::block(int index, const at::Tensor& hidden) {
  // Recomputed per block (O(T * head_dim), small next to the block) so a block runs on its own, as
  // a pipeline stage or under activation checkpointing.
  const std::int64_t head_dim = config().headDim();
  const double theta = config().rope_theta;
  const ForwardDropout dropout = forwardDropout(hidden);
  // The rotary positions are q's and k's: this rank's sp shard of the sequence.
  const AttentionSettings attention = attentionSettings(hidden, recompute() == Recompute::selective);
  if (recompute() != Recompute::full) {
    // Serving: the cache's positions of the step's tokens.
    const at::Tensor positions =
        attention.cache ? attention.cache->positions() : positionsOf(attention.segments, at::TensorOptions().dtype(at::kLong));
    const RotaryTables rotary = rotaryTables(positions, head_dim, theta, hidden.options());
    return blocks_.at(index)->forward(hidden, rotary, dropout, attention);
  }
  // The region holds the block, the sizes and this forward's dropout by value (it runs again in
  // backward, when the model's dropout context may describe another micro-batch) and makes its
  // own rotary tables, so that only the block input stays alive between forward and backward.
  const std::shared_ptr<LlamaBlock> block = blocks_.at(index);
  const auto region = [block, head_dim, theta, dropout, attention](const std::vector<at::Tensor>& input) {
    const at::Tensor positions = positionsOf(attention.segments, at::TensorOptions().dtype(at::kLong));
    const RotaryTables rotary = rotaryTables(positions, head_dim, theta, input[0].options());
    return std::vector<at::Tensor>{block->forward(input[0], rotary, dropout, attention)};
  };
  return recomputeInBackward(region, {hidden}).front();
}

at::Tensor LlamaModel::head(const at::Tensor& hidden) {
  const at::Tensor normalized = norm("norm_f").forward(hidden);
  if (config().tie_embeddings) return outputProjection(normalized, tok_emb_->weight);
  return linear("lm_head").forward(normalized);
}

void LlamaModel::replaceTokenEmbedding(std::shared_ptr<Embedding> embedding) {
  tok_emb_ = replace_module("tok_emb", std::move(embedding));
}

InitRule LlamaModel::initRule(const std::string& name) const {
  const std::string owner = ownerModuleName(name);
  if (owner == "attn_norm" || owner == "mlp_norm" || owner == "norm_f") return {InitKind::ones};
  // As Hugging Face LLaMA: every matrix N(0, init_std), no depth scaling.
  return {InitKind::normal, config().init_std};
}

}  // namespace behemoth
