// Pipeline parallelism must not change the math: every schedule (GPipe, 1F1B, interleaved,
// zero-bubble) at pp 2 and pp 4, GPT with its embedding tied across the first and last stage and
// LLaMA with grouped-query attention, uneven parallel.pp_layers, and pp composed with dp, ZeRO-2,
// tp and sequence parallelism, follow single-process training (fp32, relative 1e-5) with clipping
// active (the global norm spans every stage) and end with the same gathered weights.
//
// GPT at tp 2 uses micro-batches of 2 sequences: with 8 micro-batches of one, tp 2 alone (pp 1)
// already ends 1.3e-5 away on one tensor (blocks.1.attn.proj.bias, whose near-zero gradient AdamW
// amplifies from tp's reduction-order rounding), before any pipeline is involved.
#include <gtest/gtest.h>

#include "tests/support/parity.h"

namespace behemoth {
namespace {

struct PipelineLayout {
  Arch arch;
  int pp;
  std::string schedule;
  int virtual_stages = 1;
  int dp = 1;
  int tp = 1;
  bool sequence_parallel = false;
  int zero = 0;
  std::vector<int> layers = {};  // parallel.pp_layers; empty = even
  double dropout = 0.0;
  int micro_batch_size = 1;
};

std::string layoutName(const testing::TestParamInfo<PipelineLayout>& info) {
  const PipelineLayout& c = info.param;
  std::string name = archName(c.arch) + "_pp" + std::to_string(c.pp) + "_" + c.schedule;
  if (c.virtual_stages > 1) name += "_v" + std::to_string(c.virtual_stages);
  if (c.dp > 1) name += "_dp" + std::to_string(c.dp);
  if (c.tp > 1) name += "_tp" + std::to_string(c.tp);
  if (c.sequence_parallel) name += "_sp";
  if (c.zero > 0) name += "_zero" + std::to_string(c.zero);
  if (!c.layers.empty()) name += "_uneven";
  if (c.dropout > 0) name += "_dropout";
  if (c.micro_batch_size > 1) name += "_micro" + std::to_string(c.micro_batch_size);
  return name;
}

// Eight blocks, so pp 4 with two chunks per rank has one block per virtual stage; eight
// micro-batches of one sequence per data-parallel rank at dp 1 (four at dp 2).
Project pipelineProject(const PipelineLayout& c) {
  Project project = tinyProject(c.arch);
  project.model.n_layer = 8;
  project.model.dropout = c.dropout;
  project.train.steps = 3;
  project.train.micro_batch_size = c.micro_batch_size;
  project.optimizer.grad_clip = 0.05;
  return project;
}

class PipelineParity : public testing::TestWithParam<PipelineLayout> {};

TEST_P(PipelineParity, MatchesSingleProcessWithClipping) {
  const PipelineLayout c = GetParam();
  Project project = pipelineProject(c);
  const ParityRun reference = trainOnRanks(project, 1);
  ASSERT_EQ(reference.losses.size(), 3u);
  EXPECT_NE(reference.losses.front(), reference.losses.back());
  project.plan.pp = c.pp;
  project.plan.pp_schedule = c.schedule;
  project.plan.pp_virtual = c.virtual_stages;
  project.plan.pp_layers = c.layers;
  project.plan.tp = c.tp;
  project.plan.sequence_parallel = c.sequence_parallel;
  project.plan.zero = c.zero;
  const ParityRun candidate = trainOnRanks(project, c.dp * c.tp * c.pp);
  expectSameTraining(reference, candidate, 1e-5);
  expectEveryStepClippedAlike(reference, candidate, project.optimizer.grad_clip, 3, 1e-5);
}

// Every schedule at pp 2 and 4 for both architectures (GPT's embedding tied across the first and
// last stage, LLaMA untied with grouped-query attention); interleaved with two chunks per rank.
std::vector<PipelineLayout> everySchedule() {
  std::vector<PipelineLayout> layouts;
  for (Arch arch : {Arch::gpt, Arch::llama}) {
    for (int pp : {2, 4}) {
      layouts.push_back({arch, pp, "gpipe"});
      layouts.push_back({arch, pp, "1f1b"});
      layouts.push_back({arch, pp, "interleaved", 2});
      layouts.push_back({arch, pp, "zero_bubble"});
    }
  }
  return layouts;
}

INSTANTIATE_TEST_SUITE_P(Schedules, PipelineParity, testing::ValuesIn(everySchedule()), layoutName);

INSTANTIATE_TEST_SUITE_P(
    Stages, PipelineParity,
    testing::Values(PipelineLayout{Arch::gpt, 2, "1f1b", 1, 1, 1, false, 0, {1, 7}},
                    PipelineLayout{Arch::gpt, 4, "1f1b", 1, 1, 1, false, 0, {3, 1, 2, 2}},
                    PipelineLayout{Arch::llama, 2, "interleaved", 2, 1, 1, false, 0, {1, 3, 2, 2}},
                    PipelineLayout{Arch::gpt, 2, "1f1b", 1, 1, 1, false, 0, {}, 0.1},
                    PipelineLayout{Arch::gpt, 2, "zero_bubble", 1, 1, 1, false, 0, {}, 0.1},
                    PipelineLayout{Arch::gpt, 2, "interleaved", 2, 1, 1, false, 0, {}, 0.1}),
    layoutName);

INSTANTIATE_TEST_SUITE_P(
    Composed, PipelineParity,
    testing::Values(PipelineLayout{Arch::gpt, 2, "1f1b", 1, 2}, PipelineLayout{Arch::gpt, 2, "1f1b", 1, 2, 1, false, 2},
                    PipelineLayout{Arch::gpt, 2, "1f1b", 1, 1, 2, false, 0, {}, 0.0, 2},
                    PipelineLayout{Arch::llama, 2, "1f1b", 1, 1, 2, true},
                    PipelineLayout{Arch::gpt, 2, "1f1b", 1, 2, 2, true, 1, {}, 0.1},
                    PipelineLayout{Arch::gpt, 2, "zero_bubble", 1, 2, 1, false, 2},
                    PipelineLayout{Arch::gpt, 2, "zero_bubble", 1, 1, 2, false, 0, {}, 0.0, 2},
                    PipelineLayout{Arch::llama, 2, "zero_bubble", 1, 1, 2, true},
                    PipelineLayout{Arch::gpt, 2, "interleaved", 2, 1, 2, true, 0, {}, 0.0, 2}),
    layoutName);

}  // namespace
}  // namespace behemoth

namespace behemoth {
namespace {

// fp16 with dynamic loss scaling: an overflow on any stage makes the global norm non-finite on
// every stage, so every stage skips the same steps and lowers the scale alike. On a CPU fp16
// gradients exist where they are reduced over dp (docs/zero.md), so both runs have dp 2; a first
// scale of 2^20 overflows them for the first steps, and the steps after it train.
TEST(PipelineLossScaling, EveryStageSkipsTheOverflowingStepsOfOneProcess) {
  Project project = pipelineProject(PipelineLayout{Arch::gpt, 2, "1f1b"});
  project.train.steps = 8;
  project.precision = Precision::fp16;
  project.plan.zero = 1;
  project.optimizer.loss_scale = 1048576.0;  // 2^20
  const ParityRun reference = trainOnRanks(project, 2);
  project.plan.pp = 2;
  const ParityRun candidate = trainOnRanks(project, 4);
  ASSERT_EQ(reference.step_events.size(), 8u);
  ASSERT_EQ(candidate.step_events.size(), 8u);
  int skipped = 0;
  for (std::size_t k = 0; k < 8; ++k) {
    const bool skip = reference.step_events[k].at("skipped").get<bool>();
    skipped += skip ? 1 : 0;
    EXPECT_EQ(candidate.step_events[k].at("skipped").get<bool>(), skip) << "step " << k + 1;
    EXPECT_EQ(candidate.step_events[k].at("loss_scale").get<double>(), reference.step_events[k].at("loss_scale").get<double>())
        << "step " << k + 1;
  }
  EXPECT_GE(skipped, 1);
  EXPECT_LT(skipped, 8);
  expectSameTraining(reference, candidate, 1e-5);
}

}  // namespace
}  // namespace behemoth
