// One rank's model in serving: the (tensor-parallel) model, its paged KV cache, and a step that runs
// the new tokens of a batch through it and returns the logits each sequence samples from.
#pragma once

#include <ATen/Tensor.h>

#include <memory>

#include "backend/serve/paged_kv_cache.h"
#include "backend/serve/step_batch.h"

namespace behemoth {

class LanguageModel;

class ServeModel {
 public:
  ServeModel(std::shared_ptr<LanguageModel> model, int kv_blocks, int block_tokens);

  // float32 [R, vocab_size]: the logits after the last new token of each sequence that wants them,
  // in batch order. Collective under tensor parallelism: every tp rank runs the same batch.
  at::Tensor step(const StepBatch& batch);

  const LanguageModel& model() const { return *model_; }
  const PagedKvCache& cache() const { return cache_; }

 private:
  std::shared_ptr<LanguageModel> model_;
  PagedKvCache cache_;
};

}  // namespace behemoth
