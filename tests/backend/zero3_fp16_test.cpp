// fp16 under ZeRO-3: the loss scaler makes one decision for every chunk on every tier of every
// rank. ZeRO-3 trains what ZeRO-2 trains in fp16 (same masters, same rounding to fp16 values, same
// fp16 gradient reduction), with the optimizer on the device, in host memory and on disk; an
// overflow on one rank skips the step everywhere and the scale follows the same schedule; a
// resumed run continues with the scale it saved.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include <ATen/ATen.h>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "parallel/zero/test_hooks.h"
#include "tests/support/command.h"
#include "tests/support/parity.h"

namespace behemoth {
namespace {

Project fp16Project(Arch arch, int zero) {
  Project project = tinyProject(arch);
  project.precision = Precision::fp16;
  project.plan.zero = zero;
  project.optimizer.loss_scale = 1024.0;
  if (zero == 3) project.plan.chunk_mb = 0.035;  // several chunks for the tiny models
  return project;
}

std::vector<double> lossScales(const ParityRun& run) {
  std::vector<double> scales;
  for (const auto& event : run.step_events) scales.push_back(event.at("loss_scale").get<double>());
  return scales;
}

// fp16 working values are fp32 masters rounded to 11 significant bits. Off the device both
// engines update the masters with the same CPU AdamW, so they agree at fp32 parity. On the device
// ZeRO-3 updates by tensor ops, whose fp32 rounding differs from the CPU kernel's in the last bit;
// where a master sits on a rounding boundary that flips its fp16 value by one fp16 unit, and the
// next steps carry the flip on. The weights then agree within fp16's own resolution, 2^-11 of the
// tensor's norm: a lost or doubled update (lr-sized, ~5% of a tiny model's weights) is a hundred
// times that.
void expectSameAtFp16Resolution(const ParityRun& reference, const ParityRun& candidate) {
  ASSERT_EQ(reference.parameters.size(), candidate.parameters.size());
  for (std::size_t k = 0; k < reference.parameters.size(); ++k) {
    const at::Tensor a = reference.parameters[k].second.to(at::kDouble);
    const at::Tensor b = candidate.parameters[k].second.to(at::kDouble);
    EXPECT_LE((a - b).norm().item<double>(), std::ldexp(1.0, -11) * a.norm().item<double>())
        << reference.parameters[k].first;
  }
}

TEST(Zero3Fp16, TrainsWhatZero2TrainsOnEveryTier) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("behemoth-zero3-fp16-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (Arch arch : {Arch::gpt, Arch::llama}) {
    SCOPED_TRACE(archName(arch));
    const ParityRun reference = trainOnRanks(fp16Project(arch, 2), 2);
    ASSERT_EQ(reference.losses.size(), 4u);
    // Parameters on the device and in host memory, optimizer shards in host memory and on disk.
    Project off_device = fp16Project(arch, 3);
    off_device.plan.offload_param_fraction = 0.5;
    off_device.plan.offload_optim_fraction = 0.5;
    off_device.plan.disk_optim_fraction = 0.5;
    off_device.plan.offload_dir = dir.string();
    const ParityRun tiered = trainOnRanks(off_device, 2);
    expectSameTraining(reference, tiered, 1e-5);
    // Everything on the device.
    const ParityRun on_device = trainOnRanks(fp16Project(arch, 3), 2);
    ASSERT_EQ(on_device.losses.size(), reference.losses.size());
    for (std::size_t step = 0; step < reference.losses.size(); ++step) {
      EXPECT_NEAR(on_device.losses[step], reference.losses[step], 1e-5 * reference.losses[step]) << "step " << step;
    }
    expectSameAtFp16Resolution(reference, on_device);
    for (const ParityRun* run : {&tiered, &on_device}) {
      expectSameGradNorms(reference, *run, 1e-5);
      EXPECT_EQ(lossScales(*run), lossScales(reference));
      for (const auto& event : run->step_events) EXPECT_FALSE(event.at("skipped").get<bool>());
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(Zero3Fp16, OverflowOnOneRankSkipsTheStepOnEveryRankAndTier) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("behemoth-zero3-skip-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  Project project = fp16Project(Arch::gpt, 3);
  project.plan.offload_optim_fraction = 0.25;
  project.plan.disk_optim_fraction = 0.5;
  project.plan.offload_dir = dir.string();
  project.optimizer.warmup_steps = 0;
  project.optimizer.min_lr_ratio = 1.0;  // constant lr: a shorter run is the same schedule
  project.train.steps = 2;
  const ParityRun two_steps = trainOnRanks(project, 2);
  // Rank 1 alone sees an inf in its first chunk's gradient shard at step index 2 (the third step).
  setZeroGradientHookForTesting([](int dp_rank, std::int64_t step, at::Tensor& shard) {
    if (dp_rank == 1 && step == 2) shard[0] = std::numeric_limits<float>::infinity();
  });
  project.train.steps = 3;
  const ParityRun skipped = trainOnRanks(project, 2);
  project.train.steps = 5;
  project.optimizer.loss_scale_window = 2;
  const ParityRun grown = trainOnRanks(project, 2);
  setZeroGradientHookForTesting(nullptr);
  std::filesystem::remove_all(dir);

  ASSERT_EQ(skipped.step_events.size(), 3u);
  EXPECT_FALSE(skipped.step_events[0].at("skipped").get<bool>());
  EXPECT_FALSE(skipped.step_events[1].at("skipped").get<bool>());
  EXPECT_TRUE(skipped.step_events[2].at("skipped").get<bool>());
  // Nothing moved on any rank or tier: the full weights (every rank's shards gathered) are bitwise
  // those after two steps.
  ASSERT_EQ(skipped.parameters.size(), two_steps.parameters.size());
  for (std::size_t k = 0; k < skipped.parameters.size(); ++k) {
    EXPECT_TRUE(at::equal(skipped.parameters[k].second, two_steps.parameters[k].second))
        << skipped.parameters[k].first << " changed in a skipped step";
  }
  // With a window of 2 the scale doubles after steps 0 and 1, halves at the overflow, doubles again.
  EXPECT_EQ(lossScales(grown), (std::vector<double>{1024, 1024, 2048, 1024, 1024}));
  EXPECT_TRUE(grown.step_events[2].at("skipped").get<bool>());
}

TEST(Zero3Fp16, ResumeContinuesWithTheSavedScale) {
  const TempDir dir;
  Project base = fp16Project(Arch::gpt, 3);
  base.plan.offload_optim_fraction = 0.5;
  base.train.steps = 6;
  base.optimizer.loss_scale_window = 2;  // the scale changes during the run: a lost scale shows
  const ParityRun reference = trainOnRanks(base, 2);
  ParityRun expected = reference;
  expected.losses.assign(reference.losses.begin() + 3, reference.losses.end());
  expected.step_events.assign(reference.step_events.begin() + 3, reference.step_events.end());

  Project saving = base;
  saving.train.out_dir = dir.file("saved");
  saving.train.checkpoint_every = 3;
  saving.train.checkpoint_final = false;
  TrainerOptions save;
  save.write_checkpoints = true;
  trainOnRanks(saving, 2, save);
  Project resuming = base;
  resuming.train.out_dir = dir.file("resumed");
  TrainerOptions resume;
  resume.resume_from = checkpointsDir(saving.train.out_dir) / stepDirName(3);
  const ParityRun resumed = trainOnRanks(resuming, 2, resume);
  ASSERT_EQ(resumed.losses.size(), 3u);
  expectSameTraining(expected, resumed, 1e-5);
  EXPECT_EQ(lossScales(resumed), lossScales(expected));
}

}  // namespace
}  // namespace behemoth
