// Planning never builds the model: `behemoth plan` of a 175B GPT allocates only the CPU roofline's
// three matrices, the same bytes as planning a tiny model, measured by the counting allocator.
#include <gtest/gtest.h>

#include "backend/metrics/tensor_memory.h"
#include "backend/planning/memory_fit.h"
#include "backend/planning/plan_checks.h"
#include "backend/planning/plan_device.h"
#include "backend/planning/plan_inputs.h"
#include "backend/project/project.h"
#include "memory/memory_model.h"
#include "parallel/plan_estimate.h"
#include "tests/support/multiprocess.h"

namespace behemoth {
namespace {

using nlohmann::json;

Project project(int n_layer, int d_model, int n_head, int vocab, int count) {
  const json document = {{"name", "planning"},
                         {"model", {{"arch", "gpt"}, {"n_layer", n_layer}, {"n_head", n_head}, {"d_model", d_model},
                                    {"seq_len", 2048}, {"vocab_size", vocab}}},
                         {"data", {{"global_batch_size", 64}}},
                         {"devices", {{"kind", "cpu"}, {"count", count}}},
                         {"parallel", {{"dp", -1}, {"zero", 1}}}};
  Project p = projectFromJson(document);
  p.plan.resolve(p.devices.count);
  checkPlanShapes(p);
  return p;
}

Project gpt3() { return project(96, 12288, 96, 50304, 2); }
Project tiny() { return project(1, 32, 2, 256, 2); }

// Peak tensor bytes allocated while planning `p` (with a measured CPU rate unless `flops` > 0).
// Measured in a child process, so that the counting allocator stays out of the test process:
// later tests there assume that storages allocated before their own installation are uncounted.
std::int64_t planningPeakBytes(const Project& p, double flops) {
  const RankRun run = runOnRanks(1, [&](const WorldInfo& info) {
    tensor_memory::installCountingAllocator();
    const std::int64_t live_before = tensor_memory::liveBytes();
    tensor_memory::resetPeak();
    CpuRateChoice rate;
    rate.cpu_flops = flops;
    const DeviceSpec device = planningDevice(p, rate);
    const PlanEstimate estimate =
        estimatePlan(describeModel(p.model), layoutFromProject(p), device, defaultAllowance(device.kind), p.plan.order);
    EXPECT_GT(estimate.time.step_s, 0.0);
    EXPECT_GT(device.peak_flops, 0.0);
    EXPECT_EQ(tensor_memory::liveBytes(), live_before) << "planning left tensors allocated";
    saveRankDoubles(info, "peak", {static_cast<double>(tensor_memory::peakBytes() - live_before)});
  });
  if (!expectAllRanksOk(run)) return -1;
  return static_cast<std::int64_t>(run.loadDoubles(0, "peak").at(0));
}

TEST(PlanningAllocation, A175BPlanAllocatesOnlyTheRooflineMatricesWhateverTheModel) {
  const std::int64_t roofline = 3 * 512 * 512 * std::int64_t{sizeof(float)};
  const std::int64_t big = planningPeakBytes(gpt3(), 0.0);
  const std::int64_t small = planningPeakBytes(tiny(), 0.0);
  // The roofline's a, b, c (and the fp32 source of a bf16 copy) and nothing that scales with the
  // model: GPT-3's embedding alone would be 2.4 GB.
  EXPECT_GE(big, roofline);
  EXPECT_LE(big, 2 * roofline);
  EXPECT_EQ(big, small);
}

TEST(PlanningAllocation, AGivenCpuRateAllocatesNothing) {
  EXPECT_EQ(planningPeakBytes(gpt3(), 1e11), 0);
}

TEST(MemoryFit, RefusesAPlanBeyondTheAvailableMemoryNamingTheModelAndTheFix) {
  const Project big = gpt3();
  const std::int64_t per_rank = estimatedRankBytes(big);
  // Parameters alone: 175e9 x (4 bytes + gradients 4 + AdamW 8, ZeRO-1 over dp 2 halves the 8).
  EXPECT_GT(per_rank, std::int64_t{1} << 40);
  try {
    checkFitsThisMachine(big, 2, std::int64_t{24} << 30);
    FAIL() << "a 175B model fitted in 24 GiB";
  } catch (const std::invalid_argument& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.rfind("model: the plan needs an estimated", 0), 0u) << message;
    EXPECT_NE(message.find("--force"), std::string::npos) << message;
    EXPECT_NE(message.find("x 2 rank(s)"), std::string::npos) << message;
  }
}

TEST(MemoryFit, TheBoundaryIsTheEstimateTimesTheLocalRanks) {
  const Project small = tiny();
  const std::int64_t per_rank = estimatedRankBytes(small);
  EXPECT_NO_THROW(checkFitsThisMachine(small, 2, 2 * per_rank));
  EXPECT_THROW(checkFitsThisMachine(small, 2, 2 * per_rank - 1), std::invalid_argument);
  EXPECT_THROW(checkFitsThisMachine(small, 3, 2 * per_rank), std::invalid_argument);
}

TEST(MemoryFit, CudaProjectsAreNotComparedWithHostMemory) {
  Project on_gpus = gpt3();
  on_gpus.devices.kind = "cuda";
  EXPECT_NO_THROW(checkFitsThisMachine(on_gpus, 8, 1));
}

}  // namespace
}  // namespace behemoth
