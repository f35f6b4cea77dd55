// model.kernels: the fused CPU kernels train what ATen's operators train, GPT and LLaMA, with and
// without dropout, on one rank and under data parallelism; bf16 within its mantissa.
#include <gtest/gtest.h>

#include "tests/support/parity.h"

namespace behemoth {
namespace {

Project withKernels(Project project, KernelKind kernels) {
  project.model.kernels = kernels;
  return project;
}

class FusedKernelParity : public ::testing::TestWithParam<Arch> {};

TEST_P(FusedKernelParity, OneRankTrainsAsAten) {
  const Project project = tinyProject(GetParam());
  const ParityRun aten = trainOnRanks(withKernels(project, KernelKind::aten), 1);
  const ParityRun fused = trainOnRanks(withKernels(project, KernelKind::fused), 1);
  expectSameTraining(aten, fused, 1e-5);
  expectSameGradNorms(aten, fused, 1e-5);
  // The fused kernels did run: they round differently, so some final weight differs in its last bits.
  bool any_bit_differs = false;
  ASSERT_EQ(aten.parameters.size(), fused.parameters.size());
  for (std::size_t k = 0; k < aten.parameters.size(); ++k) {
    any_bit_differs = any_bit_differs || !aten.parameters[k].second.equal(fused.parameters[k].second);
  }
  EXPECT_TRUE(any_bit_differs);
}

TEST_P(FusedKernelParity, WithDropoutTrainsAsAten) {
  Project project = tinyProject(GetParam());
  project.model.dropout = 0.1;
  const ParityRun aten = trainOnRanks(withKernels(project, KernelKind::aten), 1);
  const ParityRun fused = trainOnRanks(withKernels(project, KernelKind::fused), 1);
  expectSameTraining(aten, fused, 1e-5);
}

TEST_P(FusedKernelParity, DataParallelTwoRanksTrainsAsAtenOnOne) {
  const Project project = tinyProject(GetParam());
  const ParityRun aten = trainOnRanks(withKernels(project, KernelKind::aten), 1);
  Project parallel = withKernels(project, KernelKind::fused);
  parallel.plan.dp = 2;
  expectSameTraining(aten, trainOnRanks(parallel, 2), 1e-5);
}

// The fused kernels in the other layouts, each against ATen's operators on one rank.
struct FusedLayout {
  const char* name;
  int ranks;
  void (*apply)(Project&);
};

const FusedLayout kLayouts[] = {
    {"tp2", 2, [](Project& p) { p.plan.tp = 2; }},
    {"tp2_sp", 2, [](Project& p) { p.plan.tp = 2; p.plan.sequence_parallel = true; }},
    {"dp2_zero2", 2, [](Project& p) { p.plan.dp = 2; p.plan.zero = 2; }},
    {"pp2_1f1b", 2, [](Project& p) { p.plan.pp = 2; p.train.micro_batch_size = 2; }},
    {"full_recompute", 1, [](Project& p) { p.train.recompute = "full"; }},
};

TEST_P(FusedKernelParity, EveryLayoutTrainsAsAtenOnOneRank) {
  const Project project = tinyProject(GetParam());
  const ParityRun aten = trainOnRanks(withKernels(project, KernelKind::aten), 1);
  for (const FusedLayout& layout : kLayouts) {
    SCOPED_TRACE(layout.name);
    Project fused = withKernels(project, KernelKind::fused);
    layout.apply(fused);
    expectSameTraining(aten, trainOnRanks(fused, layout.ranks), 1e-5);
  }
}

// bf16 activations carry 8 bits of mantissa (relative 2^-8 = 3.9e-3 per rounding); the fused
// kernels round once where ATen's composition rounds after each operator, so losses of a few
// steps agree to a few roundings, not to fp32's 1e-5.
TEST_P(FusedKernelParity, Bf16LossesAgreeWithinTheMantissa) {
  Project project = tinyProject(GetParam());
  project.precision = Precision::bf16;
  const ParityRun aten = trainOnRanks(withKernels(project, KernelKind::aten), 1);
  const ParityRun fused = trainOnRanks(withKernels(project, KernelKind::fused), 1);
  ASSERT_EQ(aten.losses.size(), fused.losses.size());
  ASSERT_FALSE(aten.losses.empty());
  for (std::size_t k = 0; k < aten.losses.size(); ++k) {
    EXPECT_NEAR(fused.losses[k], aten.losses[k], 4 * 3.9e-3 * std::abs(aten.losses[k])) << "step " << k + 1;
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, FusedKernelParity, ::testing::Values(Arch::gpt, Arch::llama),
                         [](const auto& info) { return archName(info.param); });

}  // namespace
}  // namespace behemoth
