// The planner's view of one pipeline step in time: the time model's FLOP rate turned into the
// duration of every schedule action, and the schedule simulated with them. The Studio's schedule
// view draws what plannedTimeline returns next to the measured trace. No LibTorch.
#pragma once

#include <array>

#include "memory/model_description.h"
#include "memory/time_model.h"
#include "memory/training_layout.h"
#include "parallel/pipeline/pipeline_schedule.h"
#include "parallel/plan.h"

namespace behemoth {

// Seconds per action for `layout` (its pp, virtual_stages, schedule, micro_batch_size, tp, sp,
// precision, recompute) on `device`, at the achievable rate device.peak_flops * compute_efficiency:
//   forward     one micro-batch through one chunk: the chunk's share of the transformer blocks'
//               forward FLOPs (flopsPerToken, blocks split evenly over pp * v virtual stages),
//               divided over tp * sp;
//   backward    twice the forward, plus the chunk's recomputation (train.recompute);
//               zero_bubble: backward_input and backward_weight half of it each;
//   last_stage_extra  the output projection's forward FLOPs (the embedding lookup has none, so
//               first_stage_extra is 0);
//   transfer    one boundary activation (micro_batch_size * seq_len / sp * d_model elements, / tp
//               under sequence parallelism or a 2D+ tensor mode, as parallel/comm_model counts it)
//               over the link between neighbouring stages, plus the device latency. The link is
//               NVLink when the pp group fits in a node under `order`, else the inter-node link.
// Throws std::invalid_argument when the device has no rate (peak_flops or efficiency <= 0).
ActionCosts plannedActionCosts(const ModelDescription& model, const TrainingLayout& layout, const DeviceSpec& device,
                               const std::array<Axis, kAxisCount>& order = Plan{}.order);

// The schedule of `layout` (buildPipelineSchedule) simulated with plannedActionCosts: when every
// rank computes what, in seconds from the step's start. Throws what checkPipelineShape throws for
// shapes the schedule cannot run.
PipelineTimeline plannedTimeline(const ModelDescription& model, const TrainingLayout& layout, const DeviceSpec& device,
                                 const std::array<Axis, kAxisCount>& order = Plan{}.order);

}  // namespace behemoth
