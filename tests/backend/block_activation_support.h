// What one transformer block keeps for backward, measured exactly (train.measure_memory: the step
// event's activation_bytes, the tensor bytes forward and loss leave allocated), for the memory
// tests that compare it with the planner (recompute_memory_test, attention_memory_test).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "tests/support/parity.h"

namespace behemoth::block_memory {

// The memory tests' cases: an architecture, dropout on or off; named "gpt", "llama_dropout", ...
struct MemoryCase {
  Arch arch;
  bool dropout;
};

inline std::string caseName(const testing::TestParamInfo<MemoryCase>& info) {
  return archName(info.param.arch) + (info.param.dropout ? "_dropout" : "");
}

// Rank 0's activation bytes of one step on `ranks` ranks (-1 when the run reported none).
inline std::int64_t measuredActivationBytes(Project project, int ranks = 1) {
  project.train.steps = 1;
  project.train.measure_memory = true;
  const ParityRun run = trainOnRanks(project, ranks);
  if (run.step_events.empty()) return -1;
  return run.step_events.front().value("activation_bytes", std::int64_t{-1});
}

// One block's share: three blocks against two, so the embedding, the head and the loss cancel.
inline std::int64_t measuredBlockShare(Project project, int ranks = 1) {
  project.model.n_layer = 2;
  const std::int64_t two = measuredActivationBytes(project, ranks);
  project.model.n_layer = 3;
  const std::int64_t three = measuredActivationBytes(project, ranks);
  EXPECT_GT(two, 0);
  return three - two;
}

// What the norms (and LLaMA's rotary tables) keep per block beyond the planner's norm inputs, fp32,
// for a rank's `tokens` tokens whose rotary tables span `rotary_positions` positions.
inline std::int64_t unmodelledNormBytes(const Project& project, std::int64_t tokens, std::int64_t rotary_positions) {
  const ModelConfig& m = project.model;
  const std::int64_t e = 4;
  if (m.arch == Arch::gpt) return 2 * (2 * 4 * tokens);  // two LayerNorms: mean and rstd
  const std::int64_t rms_norm = 2 * e * tokens * m.d_model + 4 * tokens;  // x^2, normalized x, rstd
  const std::int64_t rotary = 2 * e * rotary_positions * m.headDim();   // cos and sin
  return 2 * rms_norm + rotary;
}

// The same with model.kernels: fused. The fused LayerNorm keeps mean and rstd as ATen's does; the
// fused RMSNorm keeps rstd only; the fused rotary, as ATen's composition, only its tables.
inline std::int64_t unmodelledFusedNormBytes(const Project& project, std::int64_t tokens, std::int64_t rotary_positions) {
  const ModelConfig& m = project.model;
  if (m.arch == Arch::gpt) return unmodelledNormBytes(project, tokens, rotary_positions);
  const std::int64_t rotary = 2 * 4 * rotary_positions * m.headDim();
  return 2 * (4 * tokens) + rotary;
}

// What the dense attention core keeps that the planner's scores do not count (fp32): the causal
// mask (s*s bools) and, under grouped-query attention, the key/value heads repeated to every query
// head (the planner counts K and V kv-wide; the explicit attention saves them repeated, h-wide).
inline std::int64_t unmodelledAttentionCoreBytes(const Project& project, std::int64_t tokens) {
  const ModelConfig& m = project.model;
  const std::int64_t mask = std::int64_t{m.seq_len} * m.seq_len;
  const std::int64_t repeated_kv = 2 * 4 * tokens * (m.d_model - std::int64_t{m.kvHeads()} * m.headDim());
  return mask + repeated_kv;
}

}  // namespace behemoth::block_memory
