// ZeRO must not change the math: stages 1 and 2 at dp = 2 and 4 follow single-process training
// (losses, gradient norms and weights, fp32, relative 1e-5) with clipping active, with and without accumulation, for both
// architectures; model-state bytes and comm bytes equal the ZeRO paper's figures exactly; fp16
// skips overflowing steps on every rank; bf16 and fp16 track fp32.
#include <gtest/gtest.h>

#include <cmath>

#include "parallel/comm_counter.h"
#include "parallel/zero/test_hooks.h"
#include "tests/support/parity.h"

namespace behemoth {
namespace {

struct ZeroLayoutCase {
  Arch arch;
  int stage;
  int dp;
  int micro_batch_size;  // 0: no accumulation
};

std::string caseName(const testing::TestParamInfo<ZeroLayoutCase>& info) {
  const ZeroLayoutCase& c = info.param;
  return archName(c.arch) + "_zero" + std::to_string(c.stage) + "_dp" + std::to_string(c.dp) +
         (c.micro_batch_size ? "_micro" + std::to_string(c.micro_batch_size) : "");
}

class ZeroParity : public testing::TestWithParam<ZeroLayoutCase> {};

TEST_P(ZeroParity, MatchesSingleProcessWithClipping) {
  const ZeroLayoutCase c = GetParam();
  Project project = tinyProject(c.arch);
  // Small enough that every step clips (asserted below), so the global norm must be exact.
  project.optimizer.grad_clip = 0.05;
  // Several buckets, each padded to a multiple of dp: shards cut through parameters.
  project.plan.bucket_mb = 0.01;
  const ParityRun reference = trainOnRanks(project, 1);
  ASSERT_EQ(reference.losses.size(), 4u);
  EXPECT_NE(reference.losses.front(), reference.losses.back());
  project.plan.zero = c.stage;
  project.train.micro_batch_size = c.micro_batch_size;
  const ParityRun candidate = trainOnRanks(project, c.dp);
  expectSameTraining(reference, candidate, 1e-5);
  expectSameGradNorms(reference, candidate, 1e-5);
  ASSERT_EQ(candidate.grad_norms.size(), 4u);
  for (std::size_t step = 0; step < 4; ++step) {
    EXPECT_GT(candidate.grad_norms[step], project.optimizer.grad_clip) << "step " << step << " did not clip";
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, ZeroParity,
                         testing::Values(ZeroLayoutCase{Arch::gpt, 1, 2, 0}, ZeroLayoutCase{Arch::gpt, 1, 4, 1},
                                         ZeroLayoutCase{Arch::gpt, 2, 2, 2}, ZeroLayoutCase{Arch::gpt, 2, 4, 0},
                                         ZeroLayoutCase{Arch::llama, 1, 2, 2}, ZeroLayoutCase{Arch::llama, 1, 4, 0},
                                         ZeroLayoutCase{Arch::llama, 2, 2, 0}, ZeroLayoutCase{Arch::llama, 2, 4, 1}),
                         caseName);

// One bucket (the default 25 MiB holds the whole tiny model), padded to Ψ' = ceil(Ψ/N)·N elements.
std::int64_t paddedParameters(const Project& project, int dp) {
  const std::int64_t psi = project.model.parameterCount();
  return (psi + dp - 1) / dp * dp;
}

TEST(ZeroAccounting, ModelStateBytesMatchThePaperPerStageAndDp) {
  for (int stage : {1, 2}) {
    for (int dp : {2, 4}) {
      Project project = tinyProject(Arch::gpt);
      project.plan.zero = stage;
      const ParityRun run = trainOnRanks(project, dp);
      ASSERT_FALSE(run.step_events.empty());
      const std::int64_t psi = paddedParameters(project, dp);
      // stage 1: fp32 params 4Ψ + fp32 grads 4Ψ + AdamW moments 8Ψ/N (fp32 params are the masters).
      // stage 2: fp32 params 4Ψ + gradient shard 4Ψ/N + moments 8Ψ/N.
      const std::int64_t expected = stage == 1 ? 4 * psi + 4 * psi + 8 * psi / dp : 4 * psi + 12 * psi / dp;
      for (const auto& event : run.step_events) {
        EXPECT_EQ(event.at("model_state_bytes").get<std::int64_t>(), expected) << "stage " << stage << " dp " << dp;
        EXPECT_EQ(event.at("host_state_bytes").get<std::int64_t>(), 0);
      }
    }
  }
}

TEST(ZeroAccounting, OffloadAndBf16StatesAreCountedWhereTheyLive) {
  const int dp = 2;
  Project project = tinyProject(Arch::llama);
  project.plan.zero = 2;
  project.plan.offload_optimizer = true;
  const std::int64_t psi = paddedParameters(project, dp);
  ParityRun run = trainOnRanks(project, dp);
  ASSERT_FALSE(run.step_events.empty());
  // Offloaded: a separate fp32 master shard (4Ψ/N) and the moments (8Ψ/N) in host memory.
  EXPECT_EQ(run.step_events.back().at("host_state_bytes").get<std::int64_t>(), 12 * psi / dp);
  EXPECT_EQ(run.step_events.back().at("model_state_bytes").get<std::int64_t>(), 4 * psi + 16 * psi / dp);
  project.plan.offload_optimizer = false;
  project.precision = Precision::bf16;
  run = trainOnRanks(project, dp);
  ASSERT_FALSE(run.step_events.empty());
  // bf16 params 2Ψ + fp32 gradient shard, masters and moments 16Ψ/N.
  EXPECT_EQ(run.step_events.back().at("model_state_bytes").get<std::int64_t>(), 2 * psi + 16 * psi / dp);
}

TEST(ZeroAccounting, ReduceScatterPlusAllGatherMoveWhatAllReduceMoves) {
  for (int stage : {1, 2}) {
    for (int dp : {2, 4}) {
      Project project = tinyProject(Arch::gpt);
      project.plan.zero = stage;
      const ParityRun run = trainOnRanks(project, dp);
      ASSERT_FALSE(run.step_events.empty());
      const std::int64_t bytes = 4 * paddedParameters(project, dp);
      // Both stages reduce-scatter the gradient and all-gather the parameters: DDP's all-reduce
      // volume, plus the 8-byte global-norm reduction.
      const std::int64_t expected = allReduceBusBytes(bytes, dp) + allReduceBusBytes(8, dp);
      EXPECT_EQ(reduceScatterBusBytes(bytes, dp) + allGatherBusBytes(bytes, dp), allReduceBusBytes(bytes, dp));
      // Padding (< dp elements) is the only difference from DDP on the unpadded gradient.
      const std::int64_t ddp = allReduceBusBytes(4 * project.model.parameterCount(), dp);
      EXPECT_LE(allReduceBusBytes(bytes, dp) - ddp, 2 * 4 * dp);
      for (const auto& event : run.step_events) {
        EXPECT_EQ(event.at("comm_bytes").get<std::int64_t>(), expected) << "stage " << stage << " dp " << dp;
      }
    }
  }
}

Project mixedPrecisionProject(Precision precision, int steps) {
  Project project = tinyProject(Arch::gpt);
  project.model.n_layer = 1;
  project.plan.zero = 2;
  project.precision = precision;
  project.train.steps = steps;
  project.optimizer.loss_scale = 1024.0;
  return project;
}

TEST(ZeroMixedPrecision, Fp16OverflowOnOneRankSkipsTheStepOnEveryRank) {
  for (int stage : {1, 2}) {
    Project project = mixedPrecisionProject(Precision::fp16, 2);
    project.plan.zero = stage;
    project.optimizer.warmup_steps = 0;
    project.optimizer.min_lr_ratio = 1.0;  // constant lr: a shorter run is the same schedule
    const ParityRun two_steps = trainOnRanks(project, 2);
    // Rank 1 alone sees an inf in its gradient shard at step index 2 (the third step).
    setZeroGradientHookForTesting([](int dp_rank, std::int64_t step, at::Tensor& shard) {
      if (dp_rank == 1 && step == 2) shard[0] = std::numeric_limits<float>::infinity();
    });
    project.train.steps = 3;
    const ParityRun skipped = trainOnRanks(project, 2);
    project.train.steps = 5;
    project.optimizer.loss_scale_window = 2;
    const ParityRun grown = trainOnRanks(project, 2);
    setZeroGradientHookForTesting(nullptr);

    ASSERT_EQ(skipped.step_events.size(), 3u);
    EXPECT_FALSE(skipped.step_events[0].at("skipped").get<bool>());
    EXPECT_FALSE(skipped.step_events[1].at("skipped").get<bool>());
    EXPECT_TRUE(skipped.step_events[2].at("skipped").get<bool>());
    // Every rank skipped: rank 0's weights (its own shard plus every other rank's, all-gathered)
    // are bitwise those after two steps.
    ASSERT_EQ(skipped.parameters.size(), two_steps.parameters.size());
    for (std::size_t k = 0; k < skipped.parameters.size(); ++k) {
      EXPECT_TRUE(at::equal(skipped.parameters[k].second, two_steps.parameters[k].second))
          << skipped.parameters[k].first << " changed in a skipped step (stage " << stage << ")";
    }
    // With a window of 2 the scale doubles after steps 0 and 1, halves at the overflow, doubles again.
    ASSERT_EQ(grown.step_events.size(), 5u);
    const std::vector<double> scales = {1024, 1024, 2048, 1024, 1024};
    for (std::size_t step = 0; step < 5; ++step) {
      EXPECT_EQ(grown.step_events[step].at("loss_scale").get<double>(), scales[step]) << "step " << step;
    }
    EXPECT_TRUE(grown.step_events[2].at("skipped").get<bool>());
  }
}

TEST(ZeroMixedPrecision, Bf16AndFp16TrackFp32Over50Steps) {
  const int steps = 50;
  const ParityRun fp32 = trainOnRanks(mixedPrecisionProject(Precision::fp32, steps), 2);
  const ParityRun bf16 = trainOnRanks(mixedPrecisionProject(Precision::bf16, steps), 2);
  const ParityRun fp16 = trainOnRanks(mixedPrecisionProject(Precision::fp16, steps), 2);
  ASSERT_EQ(fp32.losses.size(), static_cast<std::size_t>(steps));
  ASSERT_EQ(bf16.losses.size(), fp32.losses.size());
  ASSERT_EQ(fp16.losses.size(), fp32.losses.size());
  // Training happens: the loss falls well below its start.
  EXPECT_LT(fp32.losses.back(), fp32.losses.front() - 0.5);
  // Tolerances: bf16 keeps 8 mantissa bits (rounding 2^-9 relative per value), fp16 keeps 11 bits
  // (2^-12); the weights carry that rounding, and AdamW's lr-sized steps let it compound over 50
  // steps, but each step's loss is an average over 128 tokens that smooths it: 3% for bf16 and 1%
  // for fp16 per step bounds that drift, while a real bug (a lost update, a wrong scale, a missing
  // shard) moves the curve by far more.
  for (std::size_t step = 0; step < fp32.losses.size(); ++step) {
    EXPECT_NEAR(bf16.losses[step], fp32.losses[step], 0.03 * fp32.losses[step]) << "bf16 step " << step;
    EXPECT_NEAR(fp16.losses[step], fp32.losses[step], 0.01 * fp32.losses[step]) << "fp16 step " << step;
  }
  for (const auto& event : fp16.step_events) EXPECT_FALSE(event.at("skipped").get<bool>());
}

}  // namespace
}  // namespace behemoth
