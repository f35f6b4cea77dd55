// What a block keeps for backward with model.kernels: fused, measured exactly (train.measure_memory)
// against the planner, one process, fp32, GPT and LLaMA (grouped-query), dropout on and off, dense
// attention. The fused kernels keep (docs/kernels.md):
//   GPT:   the same as ATen's operators. The fused add + LayerNorm saves the sum (the planner's norm
//          input), its mean and rstd; the fused GELU its input.
//   LLaMA: less. The fused RMSNorm saves its input and rstd only (ATen's elementwise form also x^2
//          and the normalized x); the fused SwiGLU gate, up and the product (the planner's three
//          tensors under layout.fused_gated_mlp, not four); the fused rotary only its tables.
// Beyond the planner's figure the block keeps, as with ATen (recompute_memory_test.cpp), what the
// norms save per token and the dense attention core's mask and repeated key/value heads.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "backend/planning/plan_inputs.h"
#include "memory/activation_memory.h"
#include "tests/backend/block_activation_support.h"
#include "tests/support/parity.h"

namespace behemoth {
namespace {

using block_memory::measuredBlockShare;

using block_memory::caseName;
using block_memory::MemoryCase;

Project fusedProject(const MemoryCase& c) {
  Project p = tinyProject(c.arch);
  p.model.dropout = c.dropout ? 0.1 : 0.0;
  p.model.attention = AttentionKind::dense;
  p.model.kernels = KernelKind::fused;
  return p;
}

std::int64_t predictedBlockShare(Project project) {
  project.plan.dp = 1;
  return layerActivationBytes(describeModel(project.model), layoutFromProject(project));
}

class FusedBlockMemory : public testing::TestWithParam<MemoryCase> {};

TEST_P(FusedBlockMemory, EqualsThePlannerPlusWhatTheFusedNormsSave) {
  const Project p = fusedProject(GetParam());
  const std::int64_t tokens = std::int64_t{p.data.global_batch_size} * p.model.seq_len;
  const std::int64_t unmodelled = block_memory::unmodelledFusedNormBytes(p, tokens, p.model.seq_len) +
                                  block_memory::unmodelledAttentionCoreBytes(p, tokens);
  EXPECT_EQ(measuredBlockShare(p), predictedBlockShare(p) + unmodelled);
}

TEST_P(FusedBlockMemory, LlamaKeepsLessThanWithAtenAndGptTheSame) {
  Project p = fusedProject(GetParam());
  const std::int64_t fused = measuredBlockShare(p);
  const std::int64_t predicted_fused = predictedBlockShare(p);
  p.model.kernels = KernelKind::aten;
  const std::int64_t aten = measuredBlockShare(p);
  const std::int64_t predicted_aten = predictedBlockShare(p);
  if (p.model.arch == Arch::gpt) {
    EXPECT_EQ(fused, aten);
    EXPECT_EQ(predicted_fused, predicted_aten);
    return;
  }
  // The SwiGLU's silu(gate) (the planner's difference) and each RMSNorm's x^2 and normalized x.
  const std::int64_t tokens = std::int64_t{p.data.global_batch_size} * p.model.seq_len;
  const std::int64_t silu = 4 * tokens * p.model.ffnHidden();
  EXPECT_EQ(predicted_aten - predicted_fused, silu);
  EXPECT_EQ(aten - fused, silu + 2 * (2 * 4 * tokens * p.model.d_model));
}

TEST(FusedBlockMemory, ThePlannerCountsTheFusedSwigluOnlyWhereItRuns) {
  Project p = fusedProject({Arch::llama, false});
  p.plan.dp = 1;
  EXPECT_TRUE(layoutFromProject(p).fused_gated_mlp);
  p.precision = Precision::fp16;  // fp16 keeps ATen's operators
  EXPECT_FALSE(layoutFromProject(p).fused_gated_mlp);
  p.precision = Precision::bf16;
  EXPECT_TRUE(layoutFromProject(p).fused_gated_mlp);
  p.model.kernels = KernelKind::aten;
  EXPECT_FALSE(layoutFromProject(p).fused_gated_mlp);
  Project gpt = fusedProject({Arch::gpt, false});
  gpt.plan.dp = 1;
  EXPECT_FALSE(layoutFromProject(gpt).fused_gated_mlp);  // no gated MLP
}

INSTANTIATE_TEST_SUITE_P(Models, FusedBlockMemory,
                         testing::Values(MemoryCase{Arch::gpt, false}, MemoryCase{Arch::gpt, true},
                                         MemoryCase{Arch::llama, false}, MemoryCase{Arch::llama, true}),
                         caseName);

}  // namespace
}  // namespace behemoth
