#include "backend/model/language_model.h"

#include <ATen/ATen.h>

#include <stdexcept>

#include "backend/model/gpt.h"
#include "backend/model/llama.h"

namespace behemoth {

LanguageModel::LanguageModel(ModelConfig config) : config_(std::move(config)) {}

at::Tensor LanguageModel::forward(const at::Tensor& tokens) {
  checkTokens(tokens);
  at::Tensor hidden = embed(tokens);
  for (int index = 0; index < config_.n_layer; ++index) hidden = block(index, hidden);
  return head(hidden);
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
  if (length < 1 || length > config_.seq_len) {
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

std::shared_ptr<LanguageModel> buildModel(const ModelConfig& config, std::uint64_t seed) {
  config.validate();
  std::shared_ptr<LanguageModel> model;
  switch (config.arch) {
    case Arch::gpt: model = std::make_shared<GptModel>(config); break;
    case Arch::llama: model = std::make_shared<LlamaModel>(config); break;
  }
  if (!model) throw std::invalid_argument("model.arch: unknown architecture value");
  const LanguageModel& rules = *model;
  initializeParameters(*model, seed, [&rules](const std::string& name) { return rules.initRule(name); });
  return model;
}

}  // namespace behemoth
