// Parameter counts of public models come out exact, and FLOPs per token follow the standard count.
#include <gtest/gtest.h>

#include "backend/model/model_config.h"
#include "backend/planning/plan_inputs.h"
#include "memory/model_description.h"

namespace behemoth {
namespace {

ModelConfig llama(int layers, int heads, int kv_heads, int d_model, int d_ff) {
  ModelConfig c;
  c.arch = Arch::llama;
  c.n_layer = layers;
  c.n_head = heads;
  c.n_kv_head = kv_heads;
  c.d_model = d_model;
  c.d_ff = d_ff;
  c.vocab_size = 32000;
  c.seq_len = 4096;
  c.tie_embeddings = false;
  return c;
}

ModelConfig gpt2Small() {
  ModelConfig c;
  c.arch = Arch::gpt;
  c.n_layer = 12;
  c.n_head = 12;
  c.d_model = 768;
  c.seq_len = 1024;
  c.vocab_size = 50257;
  c.tie_embeddings = true;
  return c;
}

// Published parameter counts (model cards / papers).
TEST(ModelDescription, PublicParameterCountsAreExact) {
  EXPECT_EQ(totalParameters(describeModel(gpt2Small())), 124439808);
  EXPECT_EQ(totalParameters(describeModel(llama(32, 32, 32, 4096, 11008))), 6738415616);   // LLaMA-2-7B
  EXPECT_EQ(totalParameters(describeModel(llama(40, 40, 40, 5120, 13824))), 13015864320);  // LLaMA-2-13B
  EXPECT_EQ(totalParameters(describeModel(llama(80, 64, 8, 8192, 28672))), 68976648192);   // LLaMA-2-70B
}

TEST(ModelDescription, AgreesWithTheZooForEveryShape) {
  for (Arch arch : {Arch::gpt, Arch::llama}) {
    for (bool tied : {true, false}) {
      ModelConfig c;
      c.arch = arch;
      c.n_layer = 3;
      c.n_head = 4;
      c.n_kv_head = arch == Arch::llama ? 2 : -1;
      c.d_model = 48;
      c.seq_len = 32;
      c.vocab_size = 100;
      c.tie_embeddings = tied;
      EXPECT_EQ(totalParameters(describeModel(c)), c.parameterCount()) << archName(arch) << " tied " << tied;
    }
  }
}

TEST(ModelDescription, CountsByLayerTypeForGpt2) {
  const ParameterCounts counts = parameterCounts(describeModel(gpt2Small()));
  const std::int64_t d = 768;
  EXPECT_EQ(counts.token_embedding, 50257 * d);
  EXPECT_EQ(counts.position_embedding, 1024 * d);
  EXPECT_EQ(counts.attention, 4 * d * d + 4 * d);
  EXPECT_EQ(counts.mlp, 8 * d * d + 5 * d);
  EXPECT_EQ(counts.norms, 4 * d);
  EXPECT_EQ(counts.head, 0);
}

// PaLM / Megatron convention: 6 x (matmul weights, output projection included) + 12 L s d.
TEST(ModelDescription, FlopsPerTokenOfGpt2) {
  const FlopsPerToken flops = flopsPerToken(describeModel(gpt2Small()));
  const double matmul_weights = 12.0 * 12 * 768 * 768 + 50257.0 * 768;  // 84,934,656 + 38,597,376
  EXPECT_DOUBLE_EQ(flops.model(), 6 * matmul_weights + 12.0 * 12 * 1024 * 768);
  EXPECT_DOUBLE_EQ(flops.backward, 2 * flops.forward);
  EXPECT_DOUBLE_EQ(flops.recompute_full, 2.0 * 12 * 12 * 768 * 768 + 4.0 * 12 * 1024 * 768);
  EXPECT_DOUBLE_EQ(flops.recompute_selective, 4.0 * 12 * 1024 * 768);
}

// calflops (studio.md 1.6) reports 1.70 TFLOPs for one forward of LLaMA-2-7B on 128 tokens.
TEST(ModelDescription, Llama7bForwardMatchesCalflops) {
  ModelDescription m = describeModel(llama(32, 32, 32, 4096, 11008));
  m.seq_len = 128;
  const double forward_128 = flopsPerToken(m).forward * 128;
  EXPECT_NEAR(forward_128 / 1e12, 1.70, 0.01);
}

TEST(ModelDescription, RejectsShapesThatCannotWork) {
  ModelDescription m;
  m.heads = 5;
  EXPECT_THROW(m.validate(), std::invalid_argument);
  m = ModelDescription{};
  m.kv_heads = 3;
  EXPECT_THROW(m.validate(), std::invalid_argument);
}

}  // namespace
}  // namespace behemoth
