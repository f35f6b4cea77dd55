// The planner's time model as schedule action costs: the chunks' forward FLOPs over the
// achievable rate, backward twice that, the head on the last stage, transfers over the pp link;
// and the simulated planned step, whose compute agrees with the time model's.
#include <gtest/gtest.h>

#include "memory/time_model.h"
#include "parallel/pipeline/planned_timeline.h"

namespace behemoth {
namespace {

DeviceSpec testDevice() {
  DeviceSpec d;
  d.name = "test";
  d.peak_flops = 2e12;
  d.compute_efficiency = 0.5;
  d.intra_node_bandwidth = 100e9;
  d.inter_node_bandwidth = 10e9;
  d.latency_s = 1e-5;
  d.per_node = 8;
  return d;
}

TEST(PlannedTimeline, CostsAreTheChunksShareOfTheFlopsOverTheAchievableRate) {
  ModelDescription model;  // 2 layers, d 64, vocab 256, seq 64
  model.layers = 4;
  TrainingLayout layout;
  layout.pp = 2;
  layout.virtual_stages = 2;
  layout.schedule = PipelineSchedule::interleaved;
  layout.micro_batch_size = 3;
  layout.micro_batches = 4;
  const DeviceSpec device = testDevice();
  const ActionCosts c = plannedActionCosts(model, layout, device);
  const FlopsPerToken flops = flopsPerToken(model);
  const double rate = 1e12;
  const double tokens = 3.0 * model.seq_len;
  const double head = 2.0 * model.vocab * model.d_model;
  EXPECT_DOUBLE_EQ(c.forward, (flops.forward - head) / 4.0 * tokens / rate);
  EXPECT_DOUBLE_EQ(c.backward, 2.0 * c.forward);
  EXPECT_DOUBLE_EQ(c.backward_input + c.backward_weight, c.backward);
  EXPECT_EQ(c.first_stage_extra, 0.0);
  EXPECT_DOUBLE_EQ(c.last_stage_extra, head * tokens / rate);
  // Every virtual stage's forward together is the model's forward of one micro-batch.
  EXPECT_DOUBLE_EQ(4.0 * c.forward + c.last_stage_extra, flops.forward * tokens / rate);
  // fp32 boundary: tokens x d_model x 4 bytes over NVLink (2 ranks fit a node), plus latency.
  EXPECT_DOUBLE_EQ(c.transfer, 4.0 * tokens * model.d_model / 100e9 + 1e-5);

  layout.dp = 8;  // the pp group now spans 16 devices: inter-node
  EXPECT_DOUBLE_EQ(plannedActionCosts(model, layout, device).transfer, 4.0 * tokens * model.d_model / 10e9 + 1e-5);
  layout.dp = 1;
  layout.recompute = Recompute::full;
  EXPECT_DOUBLE_EQ(plannedActionCosts(model, layout, device).backward,
                   (2.0 * (flops.forward - head) + flops.recompute_full) / 4.0 * tokens / rate);
  DeviceSpec no_rate = device;
  no_rate.peak_flops = 0;
  EXPECT_THROW(plannedActionCosts(model, layout, no_rate), std::invalid_argument);
}

TEST(PlannedTimeline, SimulatedBusyTimeIsTheTimeModelsCompute) {
  ModelDescription model;
  model.layers = 4;
  for (PipelineSchedule schedule : {PipelineSchedule::gpipe, PipelineSchedule::one_f_one_b, PipelineSchedule::interleaved,
                                    PipelineSchedule::zero_bubble}) {
    SCOPED_TRACE(pipelineScheduleName(schedule));
    TrainingLayout layout;
    layout.pp = 2;
    layout.schedule = schedule;
    layout.virtual_stages = schedule == PipelineSchedule::interleaved ? 2 : 1;
    layout.micro_batch_size = 2;
    layout.micro_batches = 4;
    const PipelineTimeline t = plannedTimeline(model, layout, testDevice());
    ASSERT_EQ(t.ranks.size(), 2u);
    double busy = 0.0;
    for (const auto& rank : t.ranks) {
      for (const TimedAction& a : rank) busy += a.end - a.start;
    }
    // estimateTime's compute is per rank: the whole step's FLOPs over the world.
    const TimeEstimate estimate = estimateTime(model, layout, testDevice(), {});
    EXPECT_NEAR(busy / layout.pp, estimate.compute_s, 1e-12 * estimate.compute_s);
    EXPECT_GT(t.makespan, estimate.compute_s);
    EXPECT_EQ(t.bubble_fraction.size(), 2u);
  }
}

}  // namespace
}  // namespace behemoth
