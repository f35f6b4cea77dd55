// The project's pipeline settings reach the memory estimate: withPlan copies parallel.pp_schedule
// and parallel.pp_virtual into the layout (and planOf back), so GPipe's first stage holds every
// micro-batch's activations while 1F1B's holds pp of them.
#include <gtest/gtest.h>

#include "memory/model_description.h"
#include "parallel/plan_estimate.h"

namespace behemoth {
namespace {

Plan pipelinePlan(const std::string& schedule, int virtual_stages) {
  Plan plan;
  plan.dp = 1;
  plan.pp = 4;
  plan.pp_schedule = schedule;
  plan.pp_virtual = virtual_stages;
  return plan;
}

TEST(PlanEstimatePipeline, WithPlanCopiesTheScheduleAndVirtualStages) {
  const TrainingLayout interleaved = withPlan(TrainingLayout{}, pipelinePlan("interleaved", 2));
  EXPECT_EQ(interleaved.schedule, PipelineSchedule::interleaved);
  EXPECT_EQ(interleaved.virtual_stages, 2);
  EXPECT_EQ(withPlan(TrainingLayout{}, pipelinePlan("gpipe", 1)).schedule, PipelineSchedule::gpipe);
  EXPECT_EQ(withPlan(TrainingLayout{}, pipelinePlan("zero_bubble", 1)).schedule, PipelineSchedule::zero_bubble);

  const Plan back = planOf(interleaved);
  EXPECT_EQ(back.pp_schedule, "interleaved");
  EXPECT_EQ(back.pp_virtual, 2);
}

TEST(PlanEstimatePipeline, TheScheduleChangesTheFirstStagesActivations) {
  ModelDescription model;
  model.layers = 8;
  model.d_model = 256;
  model.heads = 4;
  model.kv_heads = 4;
  model.ffn_hidden = 1024;
  model.vocab = 512;
  model.seq_len = 128;
  auto estimate = [&](const std::string& schedule) {
    TrainingLayout layout = withPlan(TrainingLayout{}, pipelinePlan(schedule, 1));
    layout.micro_batches = 8;
    return estimatePlan(model, layout, deviceSpec("cpu", "", NumericFormat::fp32), defaultAllowance("cpu"));
  };
  const PlanEstimate gpipe = estimate("gpipe");
  const PlanEstimate one_f_one_b = estimate("1f1b");
  EXPECT_DOUBLE_EQ(gpipe.memory.stages.front().in_flight_micro_batches, 8.0);
  EXPECT_DOUBLE_EQ(one_f_one_b.memory.stages.front().in_flight_micro_batches, 4.0);
  EXPECT_GT(gpipe.memory.stages.front().term(kTermActivations).device_bytes,
            one_f_one_b.memory.stages.front().term(kTermActivations).device_bytes);
}

}  // namespace
}  // namespace behemoth
