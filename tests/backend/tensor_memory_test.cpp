// Exact tensor memory (train.measure_memory): the counting allocator's own arithmetic, and the
// activation bytes the trainer reports: present only when asked, linear in the batch, divided by
// tensor parallelism and further by sequence parallelism (Megatron-SP keeps the column-parallel
// inputs sharded).
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

#include "backend/metrics/tensor_memory.h"
#include "backend/model/model_config.h"
#include "tests/support/multiprocess.h"
#include "tests/support/parity.h"

namespace behemoth {
namespace {

TEST(TensorMemory, CountsLiveBytesAndPeakOfTensorsAllocatedAfterInstallation) {
  const RankRun run = runOnRanks(1, [](const WorldInfo& info) {
    at::Tensor before_install = at::ones({1000}, at::kFloat);
    tensor_memory::installCountingAllocator();
    tensor_memory::installCountingAllocator();  // idempotent
    ASSERT_TRUE(tensor_memory::countingAllocatorInstalled());
    const std::int64_t base = tensor_memory::liveBytes();
    tensor_memory::resetPeak();
    std::int64_t with_both = 0;
    {
      const at::Tensor a = at::ones({1000}, at::kFloat);    // 4000 bytes
      const at::Tensor b = at::zeros({250}, at::kDouble);   // 2000 bytes
      with_both = tensor_memory::liveBytes() - base;
    }
    const std::int64_t after_free = tensor_memory::liveBytes() - base;
    const std::int64_t peak = tensor_memory::peakBytes() - base;
    before_install.reset();  // freeing a storage that was never counted uncounts nothing
    const std::int64_t after_uncounted = tensor_memory::liveBytes() - base;
    saveRankDoubles(info, "bytes", {double(with_both), double(after_free), double(peak), double(after_uncounted)});
  });
  ASSERT_TRUE(expectAllRanksOk(run.outcomes()));
  const std::vector<double> bytes = run.loadDoubles(0, "bytes");
  EXPECT_EQ(bytes.at(0), 6000.0);
  EXPECT_EQ(bytes.at(1), 0.0);
  EXPECT_EQ(bytes.at(2), 6000.0);
  EXPECT_EQ(bytes.at(3), 0.0);
}

// Rank 0's step events of one training step with exact memory measurement.
nlohmann::json measuredStep(Project project, int nproc) {
  project.train.steps = 1;
  project.train.measure_memory = true;
  const ParityRun run = trainOnRanks(project, nproc);
  if (run.step_events.empty()) return nlohmann::json::object();
  return run.step_events.front();
}

std::int64_t activationBytes(const nlohmann::json& event) { return event.value("activation_bytes", std::int64_t{-1}); }

TEST(TensorMemory, StepEventsCarryTheFieldsOnlyWhenMeasuring) {
  Project project = tinyProject(Arch::gpt);
  project.train.steps = 1;
  const ParityRun plain = trainOnRanks(project, 1);
  ASSERT_FALSE(plain.step_events.empty());
  EXPECT_FALSE(plain.step_events.front().contains("activation_bytes"));
  EXPECT_FALSE(plain.step_events.front().contains("peak_tensor_bytes"));

  const nlohmann::json measured = measuredStep(tinyProject(Arch::gpt), 1);
  ASSERT_TRUE(measured.contains("peak_tensor_bytes"));
  EXPECT_GT(activationBytes(measured), 0);
  // The peak holds at least the activations and the parameters with their gradients.
  EXPECT_GE(measured.at("peak_tensor_bytes").get<std::int64_t>(),
            activationBytes(measured) + measured.at("model_state_bytes").get<std::int64_t>() / 2);
}

TEST(TensorMemory, ActivationBytesGrowLinearlyWithTheBatch) {
  for (Arch arch : {Arch::gpt, Arch::llama}) {
    Project project = tinyProject(arch);
    project.data.global_batch_size = 4;
    const std::int64_t one = activationBytes(measuredStep(project, 1));
    project.data.global_batch_size = 8;
    const std::int64_t two = activationBytes(measuredStep(project, 1));
    ASSERT_GT(one, 0) << archName(arch);
    EXPECT_NEAR(double(two) / double(one), 2.0, 0.06) << archName(arch) << ": " << one << " then " << two;
  }
}

TEST(TensorMemory, TensorAndSequenceParallelismDivideTheActivations) {
  for (Arch arch : {Arch::gpt, Arch::llama}) {
    Project project = tinyProject(arch);
    const std::int64_t single = activationBytes(measuredStep(project, 1));
    project.plan.tp = 2;
    const std::int64_t tensor_parallel = activationBytes(measuredStep(project, 2));
    project.plan.sequence_parallel = true;
    const std::int64_t sequence_parallel = activationBytes(measuredStep(project, 2));
    ASSERT_GT(sequence_parallel, 0) << archName(arch);
    EXPECT_LT(tensor_parallel, single) << archName(arch);
    // SP shards what plain TP replicates (norm, residual and column-parallel inputs) on top.
    EXPECT_LT(sequence_parallel, tensor_parallel) << archName(arch);
  }
}

}  // namespace
}  // namespace behemoth
