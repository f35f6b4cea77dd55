#include "backend/model/language_model.h"

#include <ATen/ATen.h>

#include <limits>
#include <stdexcept>

#include "backend/model/fused_ops.h"
#include "backend/model/gpt.h"
#include "backend/model/llama.h"
#include "parallel/autograd_collectives.h"

namespace behemoth {

LanguageModel::LanguageModel(ModelConfig config, ModelPart part)
    : config_(std::move(config)), part_(std::move(part)), padded_vocab_(config_.vocab_size) {
  chunks_ = part_.chunks.empty() ? std::vector<BlockRange>{{0, config_.n_layer}} : part_.chunks;
  for (const BlockRange& range : chunks_) {
    if (range.first < 0 || range.count < 1 || range.end() > config_.n_layer) {
      throw std::invalid_argument("model part: blocks [" + std::to_string(range.first) + ", " + std::to_string(range.end()) +
                                  ") are outside the model's " + std::to_string(config_.n_layer) + " blocks");
    }
  }
}

bool LanguageModel::holdsBlock(int index) const {
  for (const BlockRange& range : chunks_) {
    if (index >= range.first && index < range.end()) return true;
  }
  return false;
}

void LanguageModel::requireWholeModel(const char* what) const {
  const bool whole = part_.embedding && part_.head && chunks_.size() == 1 && chunks_[0].first == 0 &&
                     chunks_[0].count == config_.n_layer;
  if (!whole) throw std::logic_error(std::string(what) + " needs the whole model; this rank holds a pipeline stage");
}

at::Tensor LanguageModel::hiddenStates(const at::Tensor& tokens) {
  requireWholeModel("model forward");
  checkTokens(tokens);
  at::Tensor hidden = runStage(0, [&] { return embed(tokens); });
  for (int index = 0; index < config_.n_layer; ++index) {
    hidden = runStage(1 + index, [&] { return block(index, hidden); });
  }
  return hidden;
}

at::Tensor LanguageModel::forward(const at::Tensor& tokens) {
  if (grid_) throw std::logic_error("model forward: under 2D / 2.5D / 3D tensor parallelism the logits stay in blocks; use loss()");
  const at::Tensor hidden = hiddenStates(tokens);
  const at::Tensor logits = runStage(config_.n_layer + 1, [&] { return head(hidden); });
  if (!tp_.group) return logits;
  return gatherFromGroup(logits, *tp_.group, logits.dim() - 1).narrow(-1, 0, config_.vocab_size);
}

at::Tensor LanguageModel::logitsAt(const at::Tensor& tokens, const at::Tensor& rows) {
  if (grid_) throw std::logic_error("model logits: under 2D / 2.5D / 3D tensor parallelism the logits stay in blocks");
  const at::Tensor hidden = hiddenStates(tokens).index_select(1, rows);
  const at::Tensor logits = runStage(config_.n_layer + 1, [&] { return head(hidden); });
  if (!tp_.group) return logits;
  return gatherFromGroup(logits, *tp_.group, logits.dim() - 1).narrow(-1, 0, config_.vocab_size);
}

at::Tensor LanguageModel::loss(const at::Tensor& tokens, const at::Tensor& targets) {
  return headLoss(hiddenStates(tokens), targets);
}

at::Tensor LanguageModel::headLoss(const at::Tensor& hidden, const at::Tensor& targets) {
  const at::Tensor local_logits = runStage(config_.n_layer + 1, [&] { return head(hidden); });
  if (grid_) return grid_->loss(local_logits, targets);
  if (!tp_.group) {
    if (config_.kernels == KernelKind::fused && fusedKernelsTake(local_logits) && local_logits.dim() == 3 &&
        targets.sizes() == local_logits.sizes().slice(0, 2)) {
      return fusedCrossEntropy(local_logits.reshape({-1, local_logits.size(2)}), targets.reshape({-1}));
    }
    return lossFromLogits(local_logits, targets);
  }
  if (local_logits.dim() != 3 || targets.sizes() != local_logits.sizes().slice(0, 2)) {
    throw std::invalid_argument("model loss: logits must be [B, T, V] and targets [B, T]");
  }
  const std::int64_t first_column = std::int64_t{tp_.group->rank()} * local_logits.size(2);
  return vocabParallelCrossEntropy(local_logits, targets, first_column, config_.vocab_size, *tp_.group);
}

void LanguageModel::setTensorParallel(const TensorParallelContext& tp, std::int64_t padded_vocab) {
  tp_ = tp;
  padded_vocab_ = padded_vocab;
}

at::Tensor LanguageModel::outputProjection(const at::Tensor& hidden, const at::Tensor& weight) const {
  if (grid_) return grid_->outputProjection(hidden, weight);
  if (!tp_.group) return at::linear(hidden, weight);
  return columnParallelLinear(columnParallelInput(hidden, tp_), weight, at::Tensor(), tp_, /*gather_output=*/false);
}

namespace {

// The sp shard (the whole sequence without sp) of a sequence split `sp` ways, given one shard's length.
SequenceSegments spShard(const SequenceParallelContext& sp, std::int64_t shard_length) {
  if (!sp.active()) return {{0, shard_length}};
  return sequenceShard(sp.split, shard_length * sp.group->size(), sp.group->size(), sp.group->rank());
}

}  // namespace

SequenceSegments LanguageModel::sequenceSegments(const at::Tensor& hidden) const {
  const bool tp_sharded = tp_.group && tp_.sequence_parallel;
  const std::int64_t local = hidden.size(1);
  const SequenceSegments shard = spShard(sp_, local * (tp_sharded ? tp_.group->size() : 1));
  if (!tp_sharded) return shard;
  // Megatron-SP: this tp rank's slice of the sp shard.
  return sliceSegments(shard, local * tp_.group->rank(), local);
}

std::int64_t LanguageModel::fullSequenceLength(const at::Tensor& hidden) const {
  const bool tp_sharded = tp_.group && tp_.sequence_parallel;
  return hidden.size(1) * (tp_sharded ? tp_.group->size() : 1) * (sp_.active() ? sp_.group->size() : 1);
}

AttentionSettings LanguageModel::attentionSettings(const at::Tensor& hidden, bool recompute_core) const {
  AttentionSettings settings;
  settings.kind = config_.resolvedAttention();
  settings.block = config_.attention_block;
  settings.recompute = recompute_core;
  settings.sequence = sp_;
  // q, k and v span the sp shard: Megatron-SP's column-parallel projections gathered the tp slices.
  const bool tp_sharded = tp_.group && tp_.sequence_parallel;
  settings.segments = spShard(sp_, hidden.size(1) * (tp_sharded ? tp_.group->size() : 1));
  settings.cache = cache_;
  return settings;
}

at::Tensor LanguageModel::tokenPositions(const at::Tensor& hidden) const {
  if (cache_) return cache_->positions();
  return positionsOf(sequenceSegments(hidden), at::TensorOptions().dtype(at::kLong).device(hidden.device()));
}

ForwardDropout LanguageModel::forwardDropout(const at::Tensor& hidden) const {
  ForwardDropout dropout;
  dropout.p = is_training() ? config_.dropout : 0.0;
  dropout.context = dropout_context_;
  dropout.segments = sequenceSegments(hidden);
  dropout.full_length = fullSequenceLength(hidden);
  if (tp_.group) {
    // parallelize() gives tp rank r the query heads [r * H / tp, (r + 1) * H / tp).
    dropout.head_shard = tp_.group->rank();
    dropout.head_shards = tp_.group->size();
  }
  if (grid_) {
    // The residual stream and attention blocks of the batch and the features (grid_hooks.h); the
    // two layouts hold equally many samples.
    const GridActivationPlacement place = grid_->activations();
    const std::int64_t samples = hidden.size(0), features = hidden.size(2);
    dropout.residual_sample_offset = place.residual_sample_chunk * samples;
    dropout.attention_sample_offset = place.inner_sample_chunk * samples;
    dropout.feature_offset = place.residual_feature_chunk * features;
    dropout.full_features = place.feature_chunks * features;
    dropout.head_shard = place.inner_feature_chunk;
    dropout.head_shards = place.feature_chunks;
  }
  return dropout;
}

void LanguageModel::checkTokens(const at::Tensor& tokens) const {
  if (tokens.dim() != 2) {
    throw std::invalid_argument("model forward: tokens must be [batch, length], got " +
                                std::to_string(tokens.dim()) + " dimensions");
  }
  if (tokens.scalar_type() != at::kLong) {
    throw std::invalid_argument("model forward: tokens must be int64");
  }
  const std::int64_t length = tokens.size(1);
  // A serving step packs the new tokens of many sequences; the cache bounds each one's positions.
  const std::int64_t longest = cache_ ? std::numeric_limits<std::int64_t>::max() : config_.seq_len;
  if (length < 1 || length > longest) {
    throw std::invalid_argument("model forward: sequence length " + std::to_string(length) +
                                " is outside 1..model.seq_len = " + std::to_string(config_.seq_len));
  }
}

at::Tensor lossFromLogits(const at::Tensor& logits, const at::Tensor& targets) {
  if (logits.dim() != 3 || targets.dim() != 2 || logits.size(0) != targets.size(0) ||
      logits.size(1) != targets.size(1)) {
    throw std::invalid_argument("lossFromLogits: logits must be [B, T, V] and targets [B, T]");
  }
  const std::int64_t vocab = logits.size(2);
  return at::cross_entropy_loss(logits.reshape({-1, vocab}), targets.reshape({-1}));
}

std::shared_ptr<LanguageModel> buildModel(const ModelConfig& config, std::uint64_t seed, const ModelPart& part) {
  config.validate();
  std::shared_ptr<LanguageModel> model;
  switch (config.arch) {
    case Arch::gpt: model = std::make_shared<GptModel>(config, part); break;
    case Arch::llama: model = std::make_shared<LlamaModel>(config, part); break;
  }
  if (!model) throw std::invalid_argument("model.arch: unknown architecture value");
  const LanguageModel& rules = *model;
  initializeParameters(*model, seed, [&rules](const std::string& name) { return rules.initRule(name); });
  return model;
}

}  // namespace behemoth
