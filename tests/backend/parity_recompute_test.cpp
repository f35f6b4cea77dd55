// Recomputation does not change training: train.recompute selective and full, GPT and LLaMA (grouped-
// query attention, n_kv_head 2 < n_head 4), dropout on and off, follow single-process training
// without recomputation (fp32, relative 1e-5, every step's gradient norm too, clipping active) in one
// process, at dp 2 with micro-batches and overlapped gradient reduction (the bucket hooks fire inside
// the recomputed backward), and at tp 2 with sequence parallelism (the recomputed blocks run their
// collectives again in backward), and in two-stage 1F1B and zero-bubble pipelines with dropout (a
// stage runs later micro-batches' forwards, changing the model's dropout context, before an earlier
// one's recomputed backward; zero-bubble defers the recomputed blocks' weight gradients). That recomputation really happens is shown by the activation
// bytes it saves (recompute_memory_test.cpp).
#include <gtest/gtest.h>

#include <string>

#include "tests/support/parity.h"

namespace behemoth {
namespace {

enum class Layout { single, dp2_micro, tp2_sp, pp2_1f1b, pp2_zero_bubble };

struct RecomputeCase {
  Arch arch;
  bool dropout;
  Layout layout;
};

std::string layoutName(Layout layout) {
  switch (layout) {
    case Layout::single: return "single";
    case Layout::dp2_micro: return "dp2_micro2";
    case Layout::tp2_sp: return "tp2_sp";
    case Layout::pp2_1f1b: return "pp2_1f1b";
    case Layout::pp2_zero_bubble: return "pp2_zero_bubble";
  }
  return "?";
}

std::string caseName(const testing::TestParamInfo<RecomputeCase>& info) {
  const RecomputeCase& c = info.param;
  return archName(c.arch) + (c.dropout ? "_dropout_" : "_") + layoutName(c.layout);
}

class RecomputeParity : public testing::TestWithParam<RecomputeCase> {};

TEST_P(RecomputeParity, SelectiveAndFullMatchSingleProcessWithoutRecomputation) {
  const RecomputeCase c = GetParam();
  Project project = tinyProject(c.arch);
  project.model.dropout = c.dropout ? 0.1 : 0.0;
  project.optimizer.grad_clip = 0.05;  // every step clips, so the norms must agree exactly
  const ParityRun reference = trainOnRanks(project, 1);
  ASSERT_EQ(reference.losses.size(), 4u);
  int nproc = 1;
  if (c.layout == Layout::dp2_micro) {
    nproc = 2;
    project.train.micro_batch_size = 2;  // two micro-batches per rank and step
    ASSERT_TRUE(project.plan.overlap);
  }
  if (c.layout == Layout::tp2_sp) {
    nproc = 2;
    project.plan.tp = 2;
    project.plan.sequence_parallel = true;
  }
  if (c.layout == Layout::pp2_1f1b || c.layout == Layout::pp2_zero_bubble) {
    nproc = 2;
    project.plan.pp = 2;
    project.plan.pp_schedule = c.layout == Layout::pp2_1f1b ? "1f1b" : "zero_bubble";
    project.train.micro_batch_size = 1;  // eight micro-batches: several forwards before a backward
  }
  for (const std::string mode : {"selective", "full"}) {
    SCOPED_TRACE("train.recompute " + mode);
    project.train.recompute = mode;
    const ParityRun candidate = trainOnRanks(project, nproc);
    expectSameTraining(reference, candidate, 1e-5);
    expectEveryStepClippedAlike(reference, candidate, project.optimizer.grad_clip, 4, 1e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, RecomputeParity,
    testing::Values(RecomputeCase{Arch::gpt, false, Layout::single}, RecomputeCase{Arch::gpt, true, Layout::single},
                    RecomputeCase{Arch::llama, false, Layout::single}, RecomputeCase{Arch::llama, true, Layout::single},
                    RecomputeCase{Arch::gpt, false, Layout::dp2_micro}, RecomputeCase{Arch::gpt, true, Layout::dp2_micro},
                    RecomputeCase{Arch::llama, false, Layout::dp2_micro},
                    RecomputeCase{Arch::llama, true, Layout::dp2_micro}, RecomputeCase{Arch::gpt, false, Layout::tp2_sp},
                    RecomputeCase{Arch::gpt, true, Layout::tp2_sp}, RecomputeCase{Arch::llama, false, Layout::tp2_sp},
                    RecomputeCase{Arch::llama, true, Layout::tp2_sp}, RecomputeCase{Arch::gpt, true, Layout::pp2_1f1b},
                    RecomputeCase{Arch::llama, true, Layout::pp2_1f1b}, RecomputeCase{Arch::gpt, true, Layout::pp2_zero_bubble},
                    RecomputeCase{Arch::llama, true, Layout::pp2_zero_bubble}),
    caseName);

}  // namespace
}  // namespace behemoth
