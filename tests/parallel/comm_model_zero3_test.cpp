// ZeRO-3's collectives per step from the chunk plan (parallel/comm_model.h), in bytes worked out
// by hand for the one-block GPT of tests/memory/chunk_plan_test.cpp: chunks of 20480 elements,
// four regular ones gathered twice per micro-batch each (the tied embedding's chunk in embed and
// head, then kept into backward; the block's in forward and backward), a persistent chunk of 960.
#include <gtest/gtest.h>

#include "parallel/comm_counter.h"
#include "parallel/comm_model.h"

namespace behemoth {
namespace {

ModelDescription oneBlockGpt() {
  ModelDescription m;
  m.layers = 1;
  m.d_model = 64;
  m.heads = 4;
  m.kv_heads = 4;
  m.ffn_hidden = 256;
  m.vocab = 256;
  m.seq_len = 64;
  return m;
}

std::int64_t stepBytes(const TrainingLayout& layout) {
  return stepCommBytes(stepCollectives(oneBlockGpt(), layout, Plan{}.order, 8, CollectiveBackend::gloo));
}

TEST(CommModelZeroThree, Fp32TwoRanksTwoMicroBatches) {
  TrainingLayout layout;
  layout.dp = 2;
  layout.zero = 3;
  layout.chunk_elements = 20480;
  layout.micro_batches = 2;
  // Per micro-batch 8 all-gathers of 81920 B (40960 bus bytes each) and 4 reduce-scatters of
  // 81920 B (40960), the persistent chunk's reduce-scatter of 3840 B (1920); per step the norm
  // (8 B all-reduce: 8) and the persistent all-gather (1920).
  const std::int64_t expected = 2 * 8 * 40960 + 2 * 4 * 40960 + 2 * 1920 + 8 + 1920;
  EXPECT_EQ(stepBytes(layout), expected);  // 988808
  const auto loads = stepCollectives(oneBlockGpt(), layout, Plan{}.order, 8);
  ASSERT_EQ(loads.size(), 5u);
  EXPECT_EQ(loads[0].what, "chunk all-gather (fwd+bwd)");
  EXPECT_EQ(loads[0].count, 16);
  EXPECT_EQ(loads[0].payload_bytes, 81920);
  // Gradients reduced in bf16 halve the reduce-scatters only.
  layout.reduce_format = NumericFormat::bf16;
  EXPECT_EQ(stepBytes(layout), expected - (2 * 4 * 40960 + 2 * 1920) / 2);
}

TEST(CommModelZeroThree, Bf16FourRanks) {
  TrainingLayout layout;
  layout.dp = 4;
  layout.zero = 3;
  layout.precision = NumericFormat::bf16;
  layout.chunk_elements = 20480;
  // All-gathers of 40960 B: 3/4 of it = 30720 bus bytes; the persistent 1920 B: 1440; the norm
  // 2 * 3 * 8 / 4 = 12.
  EXPECT_EQ(stepBytes(layout), 8 * 30720 + 4 * 30720 + 1440 + 12 + 1440);  // 371532
  layout.clip_gradients = false;  // the engine reduces the norm anyway (it reports grad_norm)
  EXPECT_EQ(stepBytes(layout), 8 * 30720 + 4 * 30720 + 1440 + 12 + 1440);
  layout.dp = 1;  // one rank: nothing travels
  EXPECT_EQ(stepBytes(layout), 0);
}

}  // namespace
}  // namespace behemoth
