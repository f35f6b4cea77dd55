// Any layout loads any checkpoint. Each of six layouts saves at step 3 of a 6-step run; each of the
// six loads it and trains steps 4-6; losses and final weights equal the uninterrupted
// single-process run within fp32 parity (1e-5), for GPT and LLaMA with grouped-query attention.
// The layouts cut the state every way the index must express: whole tensors replicated over dp,
// ZeRO flat ranges through parameters (small buckets), tp boxes along rows and columns, GPT's
// fused qkv as three boxes per rank, LLaMA's single kv head replicated over tp, and a vocabulary
// of 257 padded to 258 at tp 2 (padding rows belong to no slice).
#include <gtest/gtest.h>

#include <filesystem>
#include <tuple>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "tests/support/command.h"
#include "tests/support/parity.h"

namespace behemoth {
namespace {

struct Layout {
  const char* name;
  int nproc;
  int tp;
  int zero;
  bool offload;
  bool sequence_parallel;
};

const Layout kLayouts[] = {
    {"dp1", 1, 1, 0, false, false},
    {"dp2", 2, 1, 0, false, false},
    {"dp4_zero1", 4, 1, 1, false, false},
    {"dp2_zero2_offload", 2, 1, 2, true, false},
    {"tp2_sp", 2, 2, 0, false, true},
    {"dp2_tp2_zero2", 4, 2, 2, false, false},
};
constexpr int kLayoutCount = sizeof(kLayouts) / sizeof(kLayouts[0]);

constexpr int kSaveStep = 3;
constexpr int kSteps = 6;

Project reshardProject(Arch arch) {
  Project project = tinyProject(arch);
  project.model.vocab_size = 257;  // padded at tp 2
  if (arch == Arch::llama) project.model.n_kv_head = 1;  // one kv head, replicated over tp 2
  project.train.steps = kSteps;
  project.plan.bucket_mb = 0.01;  // several ZeRO buckets: shards cut through parameters
  return project;
}

Project withLayout(Project project, const Layout& layout) {
  project.plan.tp = layout.tp;
  project.plan.zero = layout.zero;
  project.plan.offload_optimizer = layout.offload;
  project.plan.sequence_parallel = layout.sequence_parallel;
  return project;
}

// The reference's steps from `first` on, as a run resumed there would report them.
ParityRun tailOf(const ParityRun& run, std::size_t first) {
  ParityRun tail = run;
  tail.losses.assign(run.losses.begin() + static_cast<std::ptrdiff_t>(first), run.losses.end());
  return tail;
}

class CheckpointReshard : public testing::TestWithParam<std::tuple<Arch, int>> {};

TEST_P(CheckpointReshard, EveryLayoutContinuesTheRunSavedHere) {
  const auto [arch, save_index] = GetParam();
  const Layout& save_layout = kLayouts[save_index];
  const TempDir dir;
  const Project base = reshardProject(arch);
  const ParityRun reference = trainOnRanks(base, 1);
  ASSERT_EQ(reference.losses.size(), static_cast<std::size_t>(kSteps));

  Project saving = withLayout(base, save_layout);
  saving.train.out_dir = dir.file("saved");
  saving.train.checkpoint_every = kSaveStep;
  saving.train.checkpoint_final = false;
  TrainerOptions save_options;
  save_options.write_checkpoints = true;
  const ParityRun saved = trainOnRanks(saving, save_layout.nproc, save_options);
  expectSameTraining(reference, saved, 1e-5);  // saving changes nothing
  const std::filesystem::path step_dir = checkpointsDir(saving.train.out_dir) / stepDirName(kSaveStep);
  ASSERT_TRUE(std::filesystem::exists(step_dir / "index.json"));
  EXPECT_EQ(readCheckpointIndex(step_dir).world_size, save_layout.nproc);

  const ParityRun expected = tailOf(reference, kSaveStep);
  for (const Layout& load_layout : kLayouts) {
    SCOPED_TRACE(std::string("saved under ") + save_layout.name + ", loaded under " + load_layout.name);
    Project resuming = withLayout(base, load_layout);
    resuming.train.out_dir = dir.file(std::string("resumed-") + load_layout.name);
    TrainerOptions resume;
    resume.resume_from = step_dir;
    const ParityRun resumed = trainOnRanks(resuming, load_layout.nproc, resume);
    ASSERT_EQ(resumed.losses.size(), static_cast<std::size_t>(kSteps - kSaveStep));
    expectSameTraining(expected, resumed, 1e-5);
  }
}

std::string reshardName(const testing::TestParamInfo<std::tuple<Arch, int>>& info) {
  return archName(std::get<0>(info.param)) + "_saved_" + kLayouts[std::get<1>(info.param)].name;
}

INSTANTIATE_TEST_SUITE_P(Layouts, CheckpointReshard,
                         testing::Combine(testing::Values(Arch::gpt, Arch::llama), testing::Range(0, kLayoutCount)),
                         reshardName);

}  // namespace
}  // namespace behemoth
