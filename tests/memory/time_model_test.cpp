// The time model's arithmetic: compute from FLOPs, bubbles per schedule, overlap, MFU.
#include <gtest/gtest.h>

#include "memory/time_model.h"

namespace behemoth {
namespace {

DeviceSpec flatDevice() {
  DeviceSpec d;
  d.peak_flops = 100e12;
  d.compute_efficiency = 0.5;
  d.memory_bandwidth = 1e12;
  d.intra_node_bandwidth = 100e9;
  d.inter_node_bandwidth = 10e9;
  d.latency_s = 0;
  d.host_link_bandwidth = 10e9;
  return d;
}

TEST(TimeModel, ComputeIsFlopsOverAchievableRate) {
  ModelDescription m;
  TrainingLayout layout;
  layout.micro_batch_size = 4;
  layout.micro_batches = 2;
  const TimeEstimate t = estimateTime(m, layout, flatDevice(), {});
  const double tokens = 8.0 * m.seq_len;
  EXPECT_DOUBLE_EQ(t.compute_s, tokens * flopsPerToken(m).model() / 50e12);
  EXPECT_DOUBLE_EQ(t.bubble_s, 0.0);
  EXPECT_DOUBLE_EQ(t.tokens_per_s, tokens / t.step_s);
  // Only compute and the optimizer: MFU is the efficiency scaled by the compute share.
  EXPECT_NEAR(t.mfu, 0.5 * t.compute_s / t.step_s, 1e-12);
  layout.recompute = Recompute::full;
  const TimeEstimate full = estimateTime(m, layout, flatDevice(), {});
  EXPECT_DOUBLE_EQ(full.compute_s, tokens * (flopsPerToken(m).model() + flopsPerToken(m).recompute_full) / 50e12);
  EXPECT_NEAR(full.mfu / full.hfu, flopsPerToken(m).model() / (flopsPerToken(m).model() + flopsPerToken(m).recompute_full), 1e-12);
}

TEST(TimeModel, BubbleFractionsPerSchedule) {
  TrainingLayout layout;
  layout.pp = 4;
  layout.micro_batches = 8;
  EXPECT_DOUBLE_EQ(bubbleFraction(layout), 3.0 / 8);
  layout.schedule = PipelineSchedule::gpipe;
  EXPECT_DOUBLE_EQ(bubbleFraction(layout), 3.0 / 8);
  layout.schedule = PipelineSchedule::interleaved;
  layout.virtual_stages = 2;
  EXPECT_DOUBLE_EQ(bubbleFraction(layout), 3.0 / 16);
  layout.schedule = PipelineSchedule::zero_bubble;
  layout.virtual_stages = 1;
  EXPECT_DOUBLE_EQ(bubbleFraction(layout), 1.0 / 8);
}

CollectiveLoad gradientLoad(std::int64_t bus_bytes, bool intra) {
  CollectiveLoad load;
  load.axis = "dp";
  load.kind = CollectiveKind::all_reduce;
  load.count = 1;
  load.bus_bytes = bus_bytes;
  load.group_size = 2;
  load.intra_node = intra;
  load.window = OverlapWindow::last_backward;
  return load;
}

TEST(TimeModel, OverlappedReductionHidesBehindBackwardUntilItIsLonger) {
  ModelDescription m;
  TrainingLayout layout;
  layout.dp = 2;
  const DeviceSpec device = flatDevice();
  const TimeEstimate base = estimateTime(m, layout, device, {});
  const double backward_s = base.compute_s * 2.0 / 3.0;
  // Shorter than backward: only the call itself (the last bucket) shows.
  const auto small_bytes = static_cast<std::int64_t>(backward_s * 0.5 * device.intra_node_bandwidth);
  const TimeEstimate hidden = estimateTime(m, layout, device, {gradientLoad(small_bytes, true)});
  EXPECT_NEAR(hidden.comm_exposed_s, double(small_bytes) / device.intra_node_bandwidth, 1e-15);
  // Across nodes the same bytes take 10x as long and outlast backward.
  const TimeEstimate slow = estimateTime(m, layout, device, {gradientLoad(small_bytes, false)});
  EXPECT_NEAR(slow.comm_exposed_s, double(small_bytes) / device.inter_node_bandwidth, 1e-15);
  layout.overlap = false;
  const TimeEstimate serial = estimateTime(m, layout, device, {gradientLoad(small_bytes, true)});
  EXPECT_NEAR(serial.step_s - base.step_s, double(small_bytes) / device.intra_node_bandwidth, 1e-12);
  EXPECT_EQ(serial.comm_bytes, small_bytes);
}

TEST(TimeModel, KnownDevices) {
  EXPECT_DOUBLE_EQ(deviceSpec("cuda", "H100", NumericFormat::bf16).peak_flops, 989e12);
  EXPECT_DOUBLE_EQ(deviceSpec("cuda", "A100", NumericFormat::bf16).peak_flops, 312e12);
  EXPECT_FALSE(deviceSpec("cuda", "H100 SXM", NumericFormat::bf16).assumed);
  EXPECT_TRUE(deviceSpec("cuda", "MI300X", NumericFormat::bf16).assumed);
  EXPECT_EQ(deviceSpec("cpu", "", NumericFormat::fp32).kind, "cpu");
}

}  // namespace
}  // namespace behemoth
