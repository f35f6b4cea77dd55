// What recomputation keeps, measured exactly (train.measure_memory: the step event's
// activation_bytes, the tensor bytes forward and loss leave allocated for backward) against the
// memory model (memory/activation_memory.cpp), one process, fp32, GPT and LLaMA (grouped-query),
// dropout on and off. A block's share is the difference between the same model with three blocks
// and with two, so the embedding, the head and the loss cancel.
//
//   full:      the block keeps its input only: exactly the planner's figure (e*s*b*h).
//   selective: drops exactly the planner's scores, plus what the planner does not count and the
//              attention core also held: the causal mask (s*s bools) and, under grouped-query
//              attention, the key/value heads repeated to every query head (the planner counts
//              K and V kv-wide; the explicit attention saves them repeated, h-wide).
//   none and selective keep, besides the planner's figure, what the norms save: LayerNorm its mean
//              and rstd (fp32 per token); the engine's RMSNorm, written in elementwise ops, x^2,
//              the normalized x and rstd; plus LLaMA's per-block rotary tables. (Measured
//              figures: docs/recomputation.md.)
// Under tensor parallelism the measurement is not exact (gloo frees its collective staging buffers
// on its worker threads, after wait() returns), so layouts are covered by the parity tests.
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

std::int64_t predictedBlockShare(Project project) {
  project.plan.dp = 1;
  return layerActivationBytes(describeModel(project.model), layoutFromProject(project));
}

// What the norms (and LLaMA's rotary tables) keep per block beyond the planner's norm inputs.
std::int64_t unmodelledNormBytes(const Project& project) {
  const std::int64_t tokens = std::int64_t{project.data.global_batch_size} * project.model.seq_len;
  return block_memory::unmodelledNormBytes(project, tokens, project.model.seq_len);
}

// What the attention core keeps that the planner's scores do not count.
std::int64_t unmodelledAttentionCoreBytes(const Project& project) {
  const std::int64_t tokens = std::int64_t{project.data.global_batch_size} * project.model.seq_len;
  return block_memory::unmodelledAttentionCoreBytes(project, tokens);
}

using block_memory::caseName;
using block_memory::MemoryCase;

class RecomputeMemory : public testing::TestWithParam<MemoryCase> {
 protected:
  Project project() const {
    Project p = tinyProject(GetParam().arch);
    p.model.dropout = GetParam().dropout ? 0.1 : 0.0;
    // The dense attention's scores and core are what these cases measure (the planner counts
    // blockwise attention's log-sum-exp instead: model.attention, docs/recomputation.md).
    p.model.attention = AttentionKind::dense;
    return p;
  }
};

TEST_P(RecomputeMemory, FullKeepsExactlyTheBlockInput) {
  Project p = project();
  p.train.recompute = "full";
  const std::int64_t input_bytes = std::int64_t{p.data.global_batch_size} * p.model.seq_len * p.model.d_model * 4;
  EXPECT_EQ(predictedBlockShare(p), input_bytes);
  EXPECT_EQ(measuredBlockShare(p), input_bytes);
}

TEST_P(RecomputeMemory, SelectiveDropsThePlannersScoresAndTheRestOfTheAttentionCore) {
  Project p = project();
  const std::int64_t none = measuredBlockShare(p);
  const std::int64_t predicted_none = predictedBlockShare(p);
  p.train.recompute = "selective";
  const std::int64_t selective = measuredBlockShare(p);
  const std::int64_t predicted_selective = predictedBlockShare(p);
  ASSERT_LT(predicted_selective, predicted_none);
  EXPECT_EQ(none - selective, predicted_none - predicted_selective + unmodelledAttentionCoreBytes(p));
  EXPECT_EQ(selective, predicted_selective + unmodelledNormBytes(p));
  EXPECT_EQ(none, predicted_none + unmodelledNormBytes(p) + unmodelledAttentionCoreBytes(p));
}

INSTANTIATE_TEST_SUITE_P(Models, RecomputeMemory,
                         testing::Values(MemoryCase{Arch::gpt, false}, MemoryCase{Arch::gpt, true},
                                         MemoryCase{Arch::llama, false}, MemoryCase{Arch::llama, true}),
                         caseName);

}  // namespace
}  // namespace behemoth
