// The zoo models against logits computed independently in float64 by
// tests/backend/reference/zoo_reference.py (PyTorch, written from the papers' equations). Both sides
// fill every parameter with the same formula, so no generator is shared.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include <cmath>
#include <vector>

#include "backend/model/language_model.h"

namespace behemoth {
namespace {

void fillWithFormula(LanguageModel& model) {
  at::NoGradGuard no_grad;
  int index = 0;
  for (auto& item : model.named_parameters()) {
    const bool is_norm = item.key().find("ln") != std::string::npos || item.key().find("norm") != std::string::npos;
    const bool is_norm_weight = is_norm && item.key().substr(item.key().rfind('.')) == ".weight";
    const at::Tensor i = at::arange(item.value().numel(), at::kDouble);
    const at::Tensor wave = at::sin(0.731 * i + 1.3 * index);
    const at::Tensor values = is_norm_weight ? 1.0 + 0.1 * wave : 0.3 * wave;
    item.value().copy_(values.reshape(item.value().sizes()));
    ++index;
  }
}

const at::Tensor kTokens = at::tensor(std::vector<std::int64_t>{1, 5, 2, 9, 3, 7, 0, 4, 4, 10}).reshape({2, 5});
const at::Tensor kTargets = at::tensor(std::vector<std::int64_t>{5, 2, 9, 3, 8, 0, 4, 4, 10, 6}).reshape({2, 5});

void expectMatchesReference(LanguageModel& model, const std::vector<double>& expected_logits, double expected_loss) {
  fillWithFormula(model);
  const at::Tensor logits = model.forward(kTokens);
  ASSERT_EQ(logits.sizes(), (at::IntArrayRef{2, 5, 11}));
  const at::Tensor head = logits.narrow(2, 0, 4).contiguous().to(at::kDouble).reshape({-1});
  ASSERT_EQ(head.numel(), static_cast<std::int64_t>(expected_logits.size()));
  for (std::int64_t i = 0; i < head.numel(); ++i) {
    // float32 forward against a float64 reference, logits of order 1: float32 rounding is ~1e-7.
    // (Exact-erf GELU instead of tanh would move them by ~1e-4.)
    EXPECT_NEAR(head[i].item<double>(), expected_logits[i], 2e-6) << "logit " << i;
  }
  EXPECT_NEAR(lossFromLogits(logits, kTargets).item<double>(), expected_loss, 2e-6);
}

TEST(ModelReference, GptMatchesIndependentReference) {
  ModelConfig config;
  config.arch = Arch::gpt;
  config.vocab_size = 11;
  config.d_model = 8;
  config.n_head = 2;
  config.n_layer = 2;
  config.seq_len = 6;
  const auto model = buildModel(config, 0);
  // gpt: logits[:, :, 0:4] from zoo_reference.py
  expectMatchesReference(
      *model,
      {-0.34993740, -0.35073951, -0.28615812, -0.16823224, -0.61602844, -0.57611551, -0.42880536, -0.20155898,
       0.08580664, 0.15894734, 0.20245768, 0.20822665, 0.14683763, 0.08713572, 0.01119029, -0.06684118,
       -1.17742426, -1.00546803, -0.64607635, -0.16624562, -1.32152095, -0.91517778, -0.33823072, 0.30176801,
       -0.98205990, -0.60199217, -0.10970340, 0.40303586, -1.19964227, -0.81248722, -0.27387145, 0.31579837,
       -1.20937950, -0.81494462, -0.26859092, 0.32783246, -0.77179448, -0.56968953, -0.26138526, 0.09564543},
      2.61085469);
}

TEST(ModelReference, LlamaMatchesIndependentReference) {
  ModelConfig config;
  config.arch = Arch::llama;
  config.vocab_size = 11;
  config.d_model = 8;
  config.n_head = 4;
  config.n_kv_head = 2;
  config.n_layer = 2;
  config.seq_len = 6;
  config.d_ff = 12;
  config.norm_eps = 1e-6;
  config.tie_embeddings = false;
  const auto model = buildModel(config, 0);
  // llama: logits[:, :, 0:4] from zoo_reference.py
  expectMatchesReference(
      *model,
      {1.27432396, 1.29777783, 1.07930498, 0.65963228, 0.90545303, 0.83730499, 0.61306980, 0.27454851,
       0.94941623, 1.09364634, 1.03400314, 0.78160507, -0.80200342, -0.90877235, -0.84613146, -0.62575801,
       0.14182177, 0.48711967, 0.74161061, 0.85785338, -1.52213878, -1.46107547, -1.12764413, -0.58400174,
       -0.96197062, -0.77196410, -0.43805103, -0.02247818, 0.40807114, 0.50440252, 0.50670513, 0.41454974,
       -1.42123554, -1.06471869, -0.50972110, 0.14029673, 0.43112084, 0.12003614, -0.21342524, -0.50710071},
      3.06192307);
}

}  // namespace
}  // namespace behemoth
