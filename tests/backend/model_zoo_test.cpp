// Zoo models: parameter counts, seed-only initialization, causal masking, loss scale, GQA shapes,
// swappable linear layers.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include <cmath>
#include <set>

#include "backend/model/language_model.h"

namespace behemoth {
namespace {

ModelConfig tinyGpt() {
  ModelConfig config;
  config.arch = Arch::gpt;
  config.n_layer = 2;
  config.n_head = 4;
  config.d_model = 32;
  config.seq_len = 16;
  config.vocab_size = 64;
  return config;
}

ModelConfig tinyLlama() {
  ModelConfig config;
  config.arch = Arch::llama;
  config.n_layer = 2;
  config.n_head = 4;
  config.n_kv_head = 2;
  config.d_model = 32;
  config.seq_len = 16;
  config.vocab_size = 64;
  config.tie_embeddings = false;
  return config;
}

std::int64_t countParameters(torch::nn::Module& model) {
  std::int64_t total = 0;
  for (const auto& parameter : model.parameters()) total += parameter.numel();
  return total;
}

at::Tensor randomTokens(std::int64_t batch, std::int64_t length, std::int64_t vocab, std::uint64_t seed) {
  auto generator = at::detail::createCPUGenerator(seed);
  return at::randint(vocab, {batch, length}, generator, at::kLong);
}

TEST(ModelZoo, ParameterCountMatchesBuiltModel) {
  std::vector<ModelConfig> configs = {tinyGpt(), tinyLlama()};
  configs.push_back(tinyGpt());
  configs.back().tie_embeddings = false;
  configs.back().d_ff = 40;
  configs.push_back(tinyLlama());
  configs.back().n_kv_head = 1;
  configs.back().tie_embeddings = true;
  configs.push_back(tinyLlama());
  configs.back().n_kv_head = -1;
  configs.back().n_layer = 3;
  for (const auto& config : configs) {
    const auto model = buildModel(config, 1);
    EXPECT_EQ(countParameters(*model), config.parameterCount()) << archName(config.arch);
  }
}

TEST(ModelZoo, GptParameterNamesAreStable) {
  const auto model = buildModel(tinyGpt(), 0);
  std::set<std::string> names;
  for (const auto& item : model->named_parameters()) names.insert(item.key());
  const std::set<std::string> block0 = {
      "blocks.0.ln1.weight",      "blocks.0.ln1.bias",      "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias",
      "blocks.0.attn.proj.weight", "blocks.0.attn.proj.bias", "blocks.0.ln2.weight",      "blocks.0.ln2.bias",
      "blocks.0.mlp.fc.weight",   "blocks.0.mlp.fc.bias",   "blocks.0.mlp.proj.weight", "blocks.0.mlp.proj.bias"};
  for (const auto& name : block0) EXPECT_EQ(names.count(name), 1u) << name;
  for (const char* name : {"tok_emb.weight", "pos_emb.weight", "ln_f.weight", "ln_f.bias"}) {
    EXPECT_EQ(names.count(name), 1u) << name;
  }
  EXPECT_EQ(names.count("lm_head.weight"), 0u);  // tied to tok_emb
  EXPECT_EQ(names.size(), 2u * 12u + 4u);
}

TEST(ModelZoo, SameSeedGivesBitwiseIdenticalParameters) {
  for (const auto& config : {tinyGpt(), tinyLlama()}) {
    const auto first = buildModel(config, 7);
    const auto second = buildModel(config, 7);
    const auto other_seed = buildModel(config, 8);
    const auto second_parameters = second->named_parameters();
    const auto other_parameters = other_seed->named_parameters();
    for (const auto& item : first->named_parameters()) {
      EXPECT_TRUE(at::equal(item.value(), second_parameters[item.key()])) << item.key();
      const bool constant = item.value().min().item<float>() == item.value().max().item<float>();  // norms, biases
      if (!constant) {
        EXPECT_FALSE(at::equal(item.value(), other_parameters[item.key()])) << item.key();
      }
    }
  }
}

TEST(ModelZoo, ParameterValuesDoNotDependOnOtherParameters) {
  for (auto config : {tinyGpt(), tinyLlama()}) {
    config.n_layer = 1;
    const auto one_layer = buildModel(config, 3);
    config.n_layer = 2;
    config.tie_embeddings = !config.tie_embeddings;  // adds or removes lm_head too
    const auto two_layers = buildModel(config, 3);
    const auto deeper = two_layers->named_parameters();
    for (const auto& item : one_layer->named_parameters()) {
      if (item.key() == "lm_head.weight") continue;  // only one of the two models has it
      ASSERT_NE(deeper.find(item.key()), nullptr) << item.key();
      // GPT-2 scales residual projections by 1/sqrt(2 n_layer): same stream, different scale.
      const bool depth_scaled = config.arch == Arch::gpt && item.key().find(".proj.weight") != std::string::npos;
      const double factor = depth_scaled ? std::sqrt(2.0) : 1.0;
      EXPECT_TRUE(at::allclose(item.value(), deeper[item.key()] * factor, 1e-6, 0.0)) << item.key();
      if (!depth_scaled) {
        EXPECT_TRUE(at::equal(item.value(), deeper[item.key()])) << item.key();
      }
    }
  }
}

TEST(ModelZoo, InitializationFollowsTheConfiguredDistribution) {
  ModelConfig config = tinyGpt();
  config.d_model = 128;
  config.vocab_size = 512;
  config.n_layer = 8;
  const auto model = buildModel(config, 11);
  const auto parameters = model->named_parameters();
  const at::Tensor embedding = parameters["tok_emb.weight"];
  EXPECT_NEAR(embedding.mean().item<double>(), 0.0, 0.001);
  EXPECT_NEAR(embedding.std().item<double>(), 0.02, 0.0005);
  EXPECT_NEAR(parameters["blocks.3.mlp.proj.weight"].std().item<double>(), 0.02 / std::sqrt(16.0), 0.0002);
  EXPECT_TRUE(at::equal(parameters["blocks.3.ln1.weight"], at::ones({128})));
  EXPECT_TRUE(at::equal(parameters["blocks.3.attn.qkv.bias"], at::zeros({384})));
}

TEST(ModelZoo, FutureTokensDoNotChangeEarlierLogits) {
  for (const auto& config : {tinyGpt(), tinyLlama()}) {
    const auto model = buildModel(config, 5);
    at::Tensor tokens = randomTokens(2, 12, config.vocab_size, 1);
    const at::Tensor before = model->forward(tokens);
    at::Tensor changed = tokens.clone();
    changed.select(1, 8).fill_(0);
    changed.select(1, 11).add_(1).remainder_(config.vocab_size);
    const at::Tensor after = model->forward(changed);
    EXPECT_TRUE(at::equal(before.narrow(1, 0, 8), after.narrow(1, 0, 8))) << archName(config.arch);
    EXPECT_FALSE(at::allclose(before.narrow(1, 8, 4), after.narrow(1, 8, 4))) << archName(config.arch);
  }
}

TEST(ModelZoo, UntrainedLossIsNearLogVocab) {
  for (const auto& config : {tinyGpt(), tinyLlama()}) {
    const auto model = buildModel(config, 2);
    const at::Tensor tokens = randomTokens(4, 16, config.vocab_size, 3);
    const at::Tensor targets = randomTokens(4, 16, config.vocab_size, 4);
    const double loss = lossFromLogits(model->forward(tokens), targets).item<double>();
    EXPECT_NEAR(loss, std::log(64.0), 0.05) << archName(config.arch);
  }
}

TEST(ModelZoo, LossIsMeanCrossEntropy) {
  const at::Tensor logits = at::tensor({2.0f, 0.0f, 0.0f, 0.0f, 1.0f, 3.0f}).reshape({1, 2, 3});
  const at::Tensor targets = at::tensor(std::vector<std::int64_t>{0, 1}).reshape({1, 2});
  const double first = -(2.0 - std::log(std::exp(2.0) + 2.0));
  const double second = -(1.0 - std::log(1.0 + std::exp(1.0) + std::exp(3.0)));
  EXPECT_NEAR(lossFromLogits(logits, targets).item<double>(), (first + second) / 2.0, 1e-6);
}

TEST(ModelZoo, LlamaGroupedQueryShapes) {
  ModelConfig config = tinyLlama();
  config.n_head = 8;
  config.n_kv_head = 2;
  config.d_model = 64;
  const auto model = buildModel(config, 0);
  const auto parameters = model->named_parameters();
  EXPECT_EQ(parameters["blocks.1.attn.q.weight"].sizes(), (at::IntArrayRef{64, 64}));
  EXPECT_EQ(parameters["blocks.1.attn.k.weight"].sizes(), (at::IntArrayRef{16, 64}));
  EXPECT_EQ(parameters["blocks.1.attn.v.weight"].sizes(), (at::IntArrayRef{16, 64}));
  EXPECT_EQ(parameters["blocks.1.attn.o.weight"].sizes(), (at::IntArrayRef{64, 64}));
  EXPECT_EQ(parameters["blocks.1.mlp.gate.weight"].sizes(), (at::IntArrayRef{256, 64}));  // int(8*64/3)=170 -> 256
  EXPECT_EQ(parameters["lm_head.weight"].sizes(), (at::IntArrayRef{64, 64}));
  EXPECT_EQ(model->forward(randomTokens(3, 10, 64, 0)).sizes(), (at::IntArrayRef{3, 10, 64}));
}

TEST(ModelZoo, GradientsReachEveryParameter) {
  for (const auto& config : {tinyGpt(), tinyLlama()}) {
    const auto model = buildModel(config, 4);
    const at::Tensor tokens = randomTokens(2, 8, config.vocab_size, 5);
    lossFromLogits(model->forward(tokens), randomTokens(2, 8, config.vocab_size, 6)).backward();
    for (const auto& item : model->named_parameters()) {
      ASSERT_TRUE(item.value().grad().defined()) << item.key();
      EXPECT_GT(item.value().grad().abs().sum().item<double>(), 0.0) << item.key();
    }
  }
}

TEST(ModelZoo, RejectsBadTokens) {
  const auto model = buildModel(tinyGpt(), 0);
  EXPECT_THROW(model->forward(at::zeros({2, 17}, at::kLong)), std::invalid_argument);
  EXPECT_THROW(model->forward(at::zeros({17}, at::kLong)), std::invalid_argument);
  EXPECT_THROW(model->forward(at::zeros({2, 4}, at::kFloat)), std::invalid_argument);
}

// A stand-in for a tensor-parallel layer: computes the same projection, counts its calls.
class CountingLinear : public LinearLayer {
 public:
  explicit CountingLinear(at::Tensor weight, at::Tensor bias) {
    weight_ = register_parameter("weight", weight.detach().clone());
    bias_ = register_parameter("bias", bias.detach().clone());
  }
  at::Tensor forward(const at::Tensor& input) override {
    ++calls;
    return at::linear(input, weight_, bias_);
  }
  int calls = 0;

 private:
  at::Tensor weight_;
  at::Tensor bias_;
};

TEST(ModelZoo, LinearLayersCanBeReplacedByPath) {
  const auto model = buildModel(tinyGpt(), 9);
  const at::Tensor tokens = randomTokens(2, 8, 64, 7);
  const at::Tensor before = model->forward(tokens);
  auto parameters = model->named_parameters();
  auto replacement = std::make_shared<CountingLinear>(parameters["blocks.1.mlp.fc.weight"],
                                                      parameters["blocks.1.mlp.fc.bias"]);
  replaceLinear(*model, "blocks.1.mlp.fc", replacement);
  EXPECT_TRUE(at::equal(model->forward(tokens), before));
  EXPECT_EQ(replacement->calls, 1);
  EXPECT_EQ(model->named_parameters()["blocks.1.mlp.fc.weight"].data_ptr(), replacement->parameters()[0].data_ptr());
  EXPECT_THROW(replaceLinear(*model, "blocks.1.mlp.nope", replacement), std::invalid_argument);
  EXPECT_THROW(replaceLinear(*model, "blocks.1.ln1", replacement), std::invalid_argument);
  EXPECT_THROW(replaceLinear(*model, "blocks.7.mlp.fc", replacement), std::invalid_argument);
}

TEST(ModelZoo, DropoutOnlyActsWhenConfiguredAndTraining) {
  ModelConfig config = tinyGpt();
  config.dropout = 0.5;
  const auto model = buildModel(config, 1);
  const at::Tensor tokens = randomTokens(1, 8, 64, 2);
  model->eval();
  EXPECT_TRUE(at::equal(model->forward(tokens), model->forward(tokens)));
  const at::Tensor evaluated = model->forward(tokens);
  model->train();
  // Counter-based masks: the same step draws the same masks, the next step others.
  model->setDropoutContext({1, 0, 0});
  const at::Tensor trained = model->forward(tokens);
  EXPECT_FALSE(at::equal(trained, evaluated));
  EXPECT_TRUE(at::equal(model->forward(tokens), trained));
  model->setDropoutContext({1, 1, 0});
  EXPECT_FALSE(at::equal(model->forward(tokens), trained));
}

}  // namespace
}  // namespace behemoth
