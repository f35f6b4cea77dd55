#include "backend/serve/serve_model.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "backend/model/language_model.h"
#include "backend/serve/paged_attention.h"

namespace behemoth {

namespace {

// Routes the model's attention through the step's cache for exactly one forward.
class CachedAttentionScope {
 public:
  CachedAttentionScope(LanguageModel& model, CachedAttention& cache) : model_(model) { model_.setCachedAttention(&cache); }
  ~CachedAttentionScope() { model_.setCachedAttention(nullptr); }
  CachedAttentionScope(const CachedAttentionScope&) = delete;
  CachedAttentionScope& operator=(const CachedAttentionScope&) = delete;

 private:
  LanguageModel& model_;
};

}  // namespace

ServeModel::ServeModel(std::shared_ptr<LanguageModel> model, int kv_blocks, int block_tokens)
    : model_(std::move(model)), cache_(model_->config().n_layer, kv_blocks, block_tokens) {
  model_->eval();
}

at::Tensor ServeModel::step(const StepBatch& batch) {
  torch::NoGradGuard no_grad;
  std::vector<std::int64_t> tokens;
  std::vector<std::int64_t> rows;
  for (const SequenceStep& sequence : batch.sequences) {
    tokens.insert(tokens.end(), sequence.tokens.begin(), sequence.tokens.end());
    if (sequence.wants_logits) rows.push_back(static_cast<std::int64_t>(tokens.size()) - 1);
  }
  const auto long_options = at::TensorOptions().dtype(at::kLong);
  PagedAttention attention(batch, cache_);
  const CachedAttentionScope scope(*model_, attention);
  const at::Tensor logits = model_->logitsAt(at::tensor(tokens, long_options).unsqueeze(0), at::tensor(rows, long_options));
  return logits[0].to(at::kFloat).contiguous();
}

}  // namespace behemoth
