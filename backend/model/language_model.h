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
#include <vector>

#include "backend/model/attention.h"
#include "backend/model/dropout.h"
#include "backend/model/grid_hooks.h"
#include "backend/model/init.h"
#include "backend/model/layers.h"
#include "backend/model/linear.h"
#include "backend/model/model_config.h"
#include "memory/training_layout.h"
#include "parallel/pipeline/stage_layers.h"
#include "parallel/tensor_parallel/tensor_parallel_ops.h"
#include "parallel/zero3/stage_hooks.h"

namespace behemoth {

// The part of the model one rank builds: under pipeline parallelism its stage's blocks (one range
// per model chunk), the embedding on the first stage, the final norm and head on the last. A tied
// head on a stage without the embedding holds its own copy of tok_emb.weight (same name, same
// initial values; the trainer sums the two copies' gradients). Default: the whole model.
struct ModelPart {
  std::vector<BlockRange> chunks;  // empty: every block, as one chunk
  bool embedding = true;
  bool head = true;
  static ModelPart whole() { return {}; }
};

class LanguageModel : public LinearOwner {
 public:
  LanguageModel(ModelConfig config, ModelPart part);

  const ModelConfig& config() const { return config_; }
  // What this rank built: its chunks' block ranges (the whole model: one chunk of every block),
  // and whether it holds the embedding and the head.
  const std::vector<BlockRange>& chunks() const { return chunks_; }
  bool holdsEmbedding() const { return part_.embedding; }
  bool holdsHead() const { return part_.head; }
  bool holdsBlock(int index) const;
  // Whether the model's token-embedding table lives here: with the embedding, or as the tied
  // head's copy.
  bool holdsTokenEmbedding() const { return part_.embedding || (part_.head && config_.tie_embeddings); }

  // tokens [B, T] int64 (T <= seq_len) -> logits [B, T, vocab_size] (under tensor parallelism
  // gathered over the vocabulary, padding columns dropped: the same logits on every tp rank).
  at::Tensor forward(const at::Tensor& tokens);
  // The logits of only the tokens at `rows` (int64 [R], indices into dim 1 of tokens [1, N]):
  // [1, R, vocab_size]. Serving's step, which needs each sequence's last token only.
  at::Tensor logitsAt(const at::Tensor& tokens, const at::Tensor& rows);
  // Mean next-token cross-entropy of `targets` [B, T]: the training loss. Under tensor
  // parallelism the vocabulary-parallel cross-entropy, which never gathers the logits.
  at::Tensor loss(const at::Tensor& tokens, const at::Tensor& targets);
  // The same loss from the last block's output (the last pipeline stage's part of loss()).
  at::Tensor headLoss(const at::Tensor& hidden, const at::Tensor& targets);

  // tokens [B, T] -> hidden [B, T, d_model].
  virtual at::Tensor embed(const at::Tensor& tokens) = 0;
  // Transformer block `index` (0-based): hidden [B, T, d_model] -> hidden.
  virtual at::Tensor block(int index, const at::Tensor& hidden) = 0;
  // Final norm and language-model head: hidden -> logits [B, T, vocab_size]; under tensor
  // parallelism this rank's columns of the padded vocabulary [B, T, padded_vocab / tp].
  virtual at::Tensor head(const at::Tensor& hidden) = 0;

  // Tensor parallelism (backend/parallelize/parallelize.h sets it after sharding the layers):
  // hidden states are replicated over the tp group, or sequence-sharded under SP; the vocabulary
  // is padded to `padded_vocab` (a multiple of tp) and split evenly.
  void setTensorParallel(const TensorParallelContext& tp, std::int64_t padded_vocab);
  const TensorParallelContext* tensorParallel() const { return tp_.group ? &tp_ : nullptr; }
  // 2D / 2.5D / 3D tensor parallelism (backend/parallelize/grid_parallelize.h sets it after
  // replacing the layers): the activations are blocks of the batch and the features. Owned.
  void setGridTensorParallel(std::shared_ptr<const GridTensorParallel> grid) { grid_ = std::move(grid); }
  const GridTensorParallel* gridTensorParallel() const { return grid_.get(); }
  std::int64_t paddedVocab() const { return padded_vocab_; }
  // Sequence parallelism (the sp axis; parallelize() sets it): this rank's tokens are its shard of
  // the sequence (parallel/sequence_parallel/sequence_shard.h) and attention spans the sp group.
  void setSequenceParallel(const SequenceParallelContext& sp) { sp_ = sp; }
  const SequenceParallelContext& sequenceParallel() const { return sp_; }
  // Serving (backend/serve): while set, a forward's tokens [1, N] are new tokens of several
  // sequences at the cache's positions, and every block attends through the cache. Not owned;
  // null (the default) is the ordinary forward.
  void setCachedAttention(CachedAttention* cache) { cache_ = cache; }
  // Which step and global samples the next forward computes (the trainer sets it per micro-batch):
  // dropout masks are drawn from it and the activations' global coordinates (backend/model/dropout.h).
  void setDropoutContext(const DropoutContext& context) { dropout_context_ = context; }
  // Activation recomputation (train.recompute, backend/model/recompute.h): full runs every block
  // again in backward from its input, selective the attention core from q, k and v.
  void setRecompute(Recompute recompute) { recompute_ = recompute; }
  Recompute recompute() const { return recompute_; }
  // ZeRO-3 (parallel/zero3/stage_hooks.h): called around every stage of forward(), loss() and
  // headLoss(); null (the default) calls nothing. Not owned.
  void setStageHooks(StageHooks* hooks) { stage_hooks_ = hooks; }
  // Swaps the token embedding (for the vocabulary-parallel one).
  virtual void replaceTokenEmbedding(std::shared_ptr<Embedding> embedding) = 0;

  // How the parameter called `name` is initialized (used once after construction).
  virtual InitRule initRule(const std::string& name) const = 0;

 protected:
  // Throws std::invalid_argument when tokens are not [B, T] with 1 <= T <= seq_len.
  void checkTokens(const at::Tensor& tokens) const;
  // hidden x W^T for the output matrix W (the tied embedding): dense, or this rank's vocabulary
  // columns of a column-parallel projection under tensor parallelism.
  at::Tensor outputProjection(const at::Tensor& hidden, const at::Tensor& weight) const;
  // The global positions of hidden's tokens (dim 1): the sp shard, and of it Megatron-SP's tp
  // slice when hidden is tp-sharded; and the whole sequence's length.
  SequenceSegments sequenceSegments(const at::Tensor& hidden) const;
  std::int64_t fullSequenceLength(const at::Tensor& hidden) const;
  // The position of each token of `hidden` (dim 1), int64: the cache's under serving, else the
  // sequence segments'.
  at::Tensor tokenPositions(const at::Tensor& hidden) const;
  // How the blocks' attention runs for a block input `hidden`.
  AttentionSettings attentionSettings(const at::Tensor& hidden, bool recompute_core) const;
  // The dropout of this forward for residual-stream activations shaped like `hidden` (sequence
  // offset under SP, this rank's query-head block under tp); off in eval mode.
  ForwardDropout forwardDropout(const at::Tensor& hidden) const;

 private:
  at::Tensor hiddenStates(const at::Tensor& tokens);
  void requireWholeModel(const char* what) const;

  ModelConfig config_;
  ModelPart part_;
  std::vector<BlockRange> chunks_;
  TensorParallelContext tp_;
  std::shared_ptr<const GridTensorParallel> grid_;
  SequenceParallelContext sp_;
  std::int64_t padded_vocab_ = 0;
  DropoutContext dropout_context_;
  Recompute recompute_ = Recompute::none;
  StageHooks* stage_hooks_ = nullptr;
  CachedAttention* cache_ = nullptr;
  // Runs stage `stage` (0 embed, 1 + i block i, n_layer + 1 head) between the hooks.
  template <typename Compute>
  at::Tensor runStage(int stage, Compute compute) {
    if (!stage_hooks_) return compute();
    stage_hooks_->beforeStage(stage);
    return stage_hooks_->afterStage(stage, compute());
  }
};

// Mean cross-entropy over every token: logits [B, T, V], targets [B, T] int64.
at::Tensor lossFromLogits(const at::Tensor& logits, const at::Tensor& targets);

// Validates `config`, builds the architecture it names and initializes every parameter from
// (seed, parameter name) only -- see backend/model/init.h.
// With `part`, only that part is built (and initialized exactly as the whole model's same
// parameters would be).
std::shared_ptr<LanguageModel> buildModel(const ModelConfig& config, std::uint64_t seed,
                                          const ModelPart& part = ModelPart::whole());

}  // namespace behemoth
