// Exact resume: on the layout that saved it, a run resumed from a checkpoint is bitwise the run
// that was never interrupted -- every loss, gradient norm, loss scale and final weight -- in fp32,
// bf16 and fp16 (whose dynamic loss scaler is part of the saved state), with dropout on.
#include <gtest/gtest.h>

#include <filesystem>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "tests/support/command.h"
#include "tests/support/parity.h"

namespace behemoth {
namespace {

struct ResumeCase {
  const char* name;
  Arch arch;
  Precision precision;
  int nproc;
  int tp;
  int zero;
  double dropout;
};

constexpr int kSaveStep = 3;
constexpr int kSteps = 6;

class CheckpointExactResume : public testing::TestWithParam<ResumeCase> {};

TEST_P(CheckpointExactResume, EqualsTheUninterruptedRunBitwise) {
  const ResumeCase c = GetParam();
  const TempDir dir;
  Project project = tinyProject(c.arch);
  project.precision = c.precision;
  project.model.dropout = c.dropout;
  project.plan.tp = c.tp;
  project.plan.zero = c.zero;
  project.plan.bucket_mb = 0.01;
  project.train.steps = kSteps;
  if (c.precision == Precision::fp16) {
    // A scale that overflows at first and then grows every 2 clean steps: the scaler's state (scale
    // and clean-step count) changes around the save and must come back exactly.
    project.optimizer.loss_scale = 1e30;
    project.optimizer.loss_scale_window = 2;
  }
  project.train.out_dir = dir.file("run");
  project.train.checkpoint_every = kSaveStep;
  project.train.checkpoint_final = false;
  TrainerOptions save;
  save.write_checkpoints = true;
  const ParityRun whole = trainOnRanks(project, c.nproc, save);
  ASSERT_EQ(whole.losses.size(), static_cast<std::size_t>(kSteps));

  Project again = project;
  again.train.out_dir = dir.file("resumed");
  TrainerOptions resume;
  resume.resume_from = checkpointsDir(project.train.out_dir) / stepDirName(kSaveStep);
  const ParityRun resumed = trainOnRanks(again, c.nproc, resume);
  ASSERT_EQ(resumed.losses.size(), static_cast<std::size_t>(kSteps - kSaveStep));
  for (int k = 0; k < kSteps - kSaveStep; ++k) {
    EXPECT_EQ(resumed.losses[k], whole.losses[kSaveStep + k]) << "step " << kSaveStep + k + 1;
    const nlohmann::json& a = whole.step_events.at(kSaveStep + k);
    const nlohmann::json& b = resumed.step_events.at(k);
    EXPECT_EQ(a.at("step"), b.at("step"));
    EXPECT_EQ(a.at("grad_norm"), b.at("grad_norm")) << "step " << kSaveStep + k + 1;
    EXPECT_EQ(a.value("loss_scale", 1.0), b.value("loss_scale", 1.0)) << "step " << kSaveStep + k + 1;
    EXPECT_EQ(a.value("skipped", false), b.value("skipped", false)) << "step " << kSaveStep + k + 1;
  }
  ASSERT_EQ(resumed.parameters.size(), whole.parameters.size());
  for (std::size_t k = 0; k < whole.parameters.size(); ++k) {
    EXPECT_TRUE(at::equal(resumed.parameters[k].second, whole.parameters[k].second)) << whole.parameters[k].first;
  }
  if (c.precision == Precision::fp16) {
    // The case is only meaningful if the scaler moved: some step skipped, and the scale changed
    // after the save.
    bool skipped = false;
    for (const auto& event : whole.step_events) skipped = skipped || event.value("skipped", false);
    EXPECT_TRUE(skipped);
    EXPECT_NE(whole.step_events.at(kSaveStep).at("loss_scale"), whole.step_events.back().at("loss_scale"));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CheckpointExactResume,
    testing::Values(ResumeCase{"gpt_fp32_dp2_dropout", Arch::gpt, Precision::fp32, 2, 1, 0, 0.1},
                    ResumeCase{"llama_fp32_tp2_zero1_dp2", Arch::llama, Precision::fp32, 4, 2, 1, 0.0},
                    ResumeCase{"gpt_bf16_dp2", Arch::gpt, Precision::bf16, 2, 1, 0, 0.0},
                    ResumeCase{"llama_bf16_zero2_dp2_dropout", Arch::llama, Precision::bf16, 2, 1, 2, 0.1},
                    ResumeCase{"gpt_fp16_zero1_dp2", Arch::gpt, Precision::fp16, 2, 1, 1, 0.0},
                    ResumeCase{"llama_fp16_zero2_tp2", Arch::llama, Precision::fp16, 2, 2, 2, 0.1}),
    [](const testing::TestParamInfo<ResumeCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace behemoth
