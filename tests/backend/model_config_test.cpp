// ModelConfig: parameter counts of known models, validation messages, Hugging Face import.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <string>

#include "backend/model/hf_config.h"
#include "backend/model/model_config.h"

namespace behemoth {
namespace {

std::string hfFile(const std::string& name) {
  const char* source = std::getenv("BEHEMOTH_SOURCE");
  return std::string(source ? source : ".") + "/projects/hf/" + name;
}

// Expects `action` to throw std::invalid_argument whose message starts with `prefix`.
template <typename Action>
void expectInvalid(Action action, const std::string& prefix) {
  try {
    action();
    ADD_FAILURE() << "expected an error starting with '" << prefix << "'";
  } catch (const std::invalid_argument& error) {
    EXPECT_EQ(std::string(error.what()).rfind(prefix, 0), 0u) << error.what();
  }
}

TEST(ModelConfig, Gpt2SmallFromHfConfigHasKnownParameterCount) {
  const ModelConfig config = modelConfigFromHfFile(hfFile("gpt2-config.json"));
  EXPECT_EQ(config.arch, Arch::gpt);
  EXPECT_EQ(config.n_layer, 12);
  EXPECT_EQ(config.d_model, 768);
  EXPECT_EQ(config.seq_len, 1024);
  EXPECT_EQ(config.ffnHidden(), 3072);
  EXPECT_TRUE(config.tie_embeddings);
  EXPECT_EQ(config.parameterCount(), 124439808);
}

TEST(ModelConfig, Llama2_7bFromHfConfigHasKnownParameterCount) {
  const ModelConfig config = modelConfigFromHfFile(hfFile("llama-2-7b-config.json"));
  EXPECT_EQ(config.arch, Arch::llama);
  EXPECT_EQ(config.kvHeads(), 32);
  EXPECT_EQ(config.ffnHidden(), 11008);
  EXPECT_FALSE(config.tie_embeddings);
  EXPECT_DOUBLE_EQ(config.norm_eps, 1e-5);
  EXPECT_EQ(config.parameterCount(), 6738415616);
}

TEST(ModelConfig, LlamaDefaultFfnFollowsTheLlamaRule) {
  ModelConfig config;
  config.arch = Arch::llama;
  config.d_model = 4096;
  config.n_head = 32;
  EXPECT_EQ(config.ffnHidden(), 11008);  // int(2 * 4 * 4096 / 3) = 10922 -> 11008
  config.d_model = 64;
  EXPECT_EQ(config.ffnHidden(), 256);  // 170 -> 256
  config.d_ff = 100;
  EXPECT_EQ(config.ffnHidden(), 100);
}

TEST(ModelConfig, TinyHfExamplesImport) {
  const ModelConfig gpt = modelConfigFromHfFile(hfFile("gpt2-tiny-config.json"));
  EXPECT_EQ(gpt.arch, Arch::gpt);
  EXPECT_EQ(gpt.d_model, 64);
  EXPECT_EQ(gpt.d_ff, -1);
  EXPECT_EQ(gpt.seq_len, 128);
  const ModelConfig llama = modelConfigFromHfFile(hfFile("llama-tiny-config.json"));
  EXPECT_EQ(llama.arch, Arch::llama);
  EXPECT_EQ(llama.n_kv_head, 2);
  EXPECT_EQ(llama.d_ff, 176);
  EXPECT_DOUBLE_EQ(llama.norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(llama.rope_theta, 10000.0);
  EXPECT_FALSE(llama.tie_embeddings);
}

TEST(ModelConfig, HfImportReadsOptionalFields) {
  const nlohmann::json mistral = {{"model_type", "mistral"},        {"num_hidden_layers", 2},
                                  {"num_attention_heads", 8},       {"num_key_value_heads", 2},
                                  {"hidden_size", 64},              {"intermediate_size", 128},
                                  {"max_position_embeddings", 256}, {"vocab_size", 100},
                                  {"rope_theta", 1000000.0},        {"tie_word_embeddings", true}};
  const ModelConfig config = modelConfigFromHfJson(mistral);
  EXPECT_EQ(config.arch, Arch::llama);
  EXPECT_DOUBLE_EQ(config.rope_theta, 1e6);
  EXPECT_TRUE(config.tie_embeddings);
  EXPECT_EQ(config.kvHeads(), 2);
  nlohmann::json gpt = {{"model_type", "gpt2"}, {"n_layer", 1}, {"n_head", 2}, {"n_embd", 8},
                        {"n_ctx", 32},          {"vocab_size", 10}, {"n_inner", 20}};
  const ModelConfig small = modelConfigFromHfJson(gpt);
  EXPECT_EQ(small.seq_len, 32);
  EXPECT_EQ(small.d_ff, 20);
}

TEST(ModelConfig, HfImportErrorsNameTheField) {
  expectInvalid([] { modelConfigFromHfJson({{"model_type", "bert"}}); }, "hf config.model_type: 'bert'");
  expectInvalid([] { modelConfigFromHfJson(nlohmann::json::object()); }, "hf config.model_type: missing");
  expectInvalid([] { modelConfigFromHfJson({{"model_type", "gpt2"}, {"n_layer", 2}}); }, "hf config.n_head: missing");
  expectInvalid([] { modelConfigFromHfJson({{"model_type", "gpt2"}, {"n_layer", "two"}}); },
                "hf config.n_layer: expected an integer");
  nlohmann::json scaled = {{"model_type", "llama"},        {"num_hidden_layers", 2},
                           {"num_attention_heads", 4},     {"hidden_size", 64},
                           {"intermediate_size", 128},     {"max_position_embeddings", 64},
                           {"vocab_size", 100},            {"rope_scaling", {{"type", "linear"}}}};
  expectInvalid([&] { modelConfigFromHfJson(scaled); }, "hf config.rope_scaling:");
  expectInvalid([] { modelConfigFromHfFile("/nonexistent/config.json"); }, "hf config: cannot open");
  // Sizes that parse but cannot build a model are caught by validate().
  nlohmann::json uneven = {{"model_type", "gpt2"}, {"n_layer", 1}, {"n_head", 5}, {"n_embd", 64},
                           {"n_positions", 32},     {"vocab_size", 10}};
  expectInvalid([&] { modelConfigFromHfJson(uneven); }, "model.n_head: 5 does not divide model.d_model = 64");
}

TEST(ModelConfig, ValidateNamesTheField) {
  ModelConfig config;
  config.n_head = 5;
  expectInvalid([&] { config.validate(); }, "model.n_head: 5 does not divide model.d_model = 64");
  config = ModelConfig{};
  config.arch = Arch::llama;
  config.n_kv_head = 3;
  expectInvalid([&] { config.validate(); }, "model.n_kv_head: 3 does not divide model.n_head = 4");
  config = ModelConfig{};
  config.n_kv_head = 2;
  expectInvalid([&] { config.validate(); }, "model.n_kv_head:");
  config = ModelConfig{};
  config.n_layer = 0;
  expectInvalid([&] { config.validate(); }, "model.n_layer: must be positive, got 0");
  config = ModelConfig{};
  config.vocab_size = -3;
  expectInvalid([&] { config.validate(); }, "model.vocab_size: must be positive");
  config = ModelConfig{};
  config.dropout = 1.0;
  expectInvalid([&] { config.validate(); }, "model.dropout:");
  config = ModelConfig{};
  config.arch = Arch::llama;
  config.d_model = 12;
  config.n_head = 4;  // head dim 3: rotary needs pairs
  expectInvalid([&] { config.validate(); }, "model.d_model: head dimension 3");
  config = ModelConfig{};
  EXPECT_NO_THROW(config.validate());
}

TEST(ModelConfig, ArchNamesRoundTrip) {
  EXPECT_EQ(archFromName(archName(Arch::gpt)), Arch::gpt);
  EXPECT_EQ(archFromName(archName(Arch::llama)), Arch::llama);
  expectInvalid([] { archFromName("bert"); }, "model.arch: unknown architecture 'bert'");
}

}  // namespace
}  // namespace behemoth
