// Tensor storages allocated per training step, counted by the counting allocator
// (train.measure_memory: the step event's tensor_allocations), and the kernels that allocate only
// their outputs. One process, GPT and LLaMA, fused and aten.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "backend/metrics/tensor_memory.h"
#include "backend/model/attention.h"
#include "backend/model/fused_ops.h"
#include "kernels/sum_of_squares.h"
#include "tests/support/parity.h"

namespace behemoth {
namespace {

std::vector<std::int64_t> stepAllocations(Arch arch, KernelKind kernels) {
  Project p = tinyProject(arch);
  p.model.kernels = kernels;
  p.train.measure_memory = true;
  const ParityRun run = trainOnRanks(p, 1);
  std::vector<std::int64_t> counts;
  for (const auto& event : run.step_events) counts.push_back(event.value("tensor_allocations", std::int64_t{-1}));
  return counts;
}

class StepAllocations : public testing::TestWithParam<Arch> {};

TEST_P(StepAllocations, SteadyAfterTheFirstStepAndFewerWhenFused) {
  const std::vector<std::int64_t> aten = stepAllocations(GetParam(), KernelKind::aten);
  const std::vector<std::int64_t> fused = stepAllocations(GetParam(), KernelKind::fused);
  ASSERT_GE(aten.size(), 3u);
  ASSERT_EQ(aten.size(), fused.size());
  for (std::size_t step = 0; step < aten.size(); ++step) {
    EXPECT_GT(aten[step], 0) << "step " << step + 1;
    EXPECT_LT(fused[step], aten[step]) << "step " << step + 1;
  }
  // The same work every step from the second on: nothing grows, nothing is cached late.
  for (std::size_t step = 2; step < aten.size(); ++step) {
    EXPECT_EQ(aten[step], aten[1]) << "step " << step + 1;
    EXPECT_EQ(fused[step], fused[1]) << "step " << step + 1;
  }
  std::cout << archName(GetParam()) << " allocations per step: aten " << aten[1] << ", fused " << fused[1] << "\n";
}

INSTANTIATE_TEST_SUITE_P(Models, StepAllocations, testing::Values(Arch::gpt, Arch::llama),
                         [](const testing::TestParamInfo<Arch>& info) { return archName(info.param); });

std::int64_t allocationsOf(const std::function<void()>& work) {
  tensor_memory::installCountingAllocator();
  const std::int64_t before = tensor_memory::allocationCount();
  work();
  return tensor_memory::allocationCount() - before;
}

TEST(KernelAllocations, CountTheirOutputsOnly) {
  at::manual_seed(3);
  const at::Tensor grad = at::randn({1000, 300});
  double squares = 0.0;
  EXPECT_EQ(allocationsOf([&] { squares = sumOfSquares(grad); }), 0);
  double aten_squares = 0.0;
  EXPECT_GE(allocationsOf([&] { aten_squares = grad.to(at::kDouble).pow(2).sum().item<double>(); }), 3);
  EXPECT_NEAR(squares, aten_squares, 1e-12 * aten_squares);

  const at::Tensor heads = at::randn({2, 16, 4, 32}).transpose(1, 2);
  const RotaryTables tables = rotaryTables(0, 16, 32, 10000.0, at::TensorOptions());
  EXPECT_EQ(allocationsOf([&] { (void)fusedRotary(heads, tables.cos, tables.sin); }), 1);
  EXPECT_GE(allocationsOf([&] { (void)applyRotary(heads, tables); }), 5);  // -x2, cat, two products, sum
  {
    at::NoGradGuard no_grad;
    EXPECT_EQ(allocationsOf([&] { (void)fusedRotary(heads, tables.cos, tables.sin); }), 0);
  }

  const at::Tensor logits = at::randn({64, 500});
  const at::Tensor targets = at::randint(0, 500, {64}, at::kLong);
  // The loss and one log-sum-exp per row; ATen also writes the [64, 500] log-probabilities.
  EXPECT_EQ(allocationsOf([&] { (void)fusedCrossEntropy(logits, targets); }), 2);
  EXPECT_GE(allocationsOf([&] { (void)at::cross_entropy_loss(logits, targets); }), 3);
}

}  // namespace
}  // namespace behemoth
