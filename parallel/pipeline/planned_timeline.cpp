#include "parallel/pipeline/planned_timeline.h"

#include <stdexcept>

namespace behemoth {
namespace {

// Consecutive devices one pp group spans under `order` (outermost first): pp times the sizes of
// the axes nested inside it.
int pipelineSpan(const TrainingLayout& layout, const std::array<Axis, kAxisCount>& order) {
  const auto size = [&layout](Axis axis) {
    switch (axis) {
      case Axis::dp: return layout.dp;
      case Axis::pp: return layout.pp;
      case Axis::tp: return layout.tp;
      case Axis::sp: return layout.sp;
      case Axis::ep: return layout.ep;
    }
    return 1;
  };
  int span = 1;
  bool inside = false;
  for (Axis axis : order) {
    if (inside) span *= size(axis);
    if (axis == Axis::pp) inside = true;
  }
  return span * layout.pp;
}

}  // namespace

ActionCosts plannedActionCosts(const ModelDescription& model, const TrainingLayout& layout, const DeviceSpec& device,
                               const std::array<Axis, kAxisCount>& order) {
  const double rate = device.peak_flops * device.compute_efficiency;
  if (!(rate > 0.0)) throw std::invalid_argument("device " + device.name + ": no FLOP rate to time the pipeline with");
  const FlopsPerToken flops = flopsPerToken(model);
  const double head_forward = 2.0 * double(model.vocab) * model.d_model;  // per token
  const double blocks_forward = flops.forward - head_forward;
  double recompute = 0.0;
  if (layout.recompute == Recompute::full) recompute = flops.recompute_full;
  if (layout.recompute == Recompute::selective) recompute = flops.recompute_selective;

  const int virtual_stages = layout.pp * layout.virtual_stages;
  const double tokens = double(layout.micro_batch_size) * model.seq_len;
  const double split = double(layout.tp) * layout.sp;  // both divide a stage's work
  const double seconds_per_flop = tokens / split / rate;

  ActionCosts costs;
  costs.forward = blocks_forward / virtual_stages * seconds_per_flop;
  costs.backward = (2.0 * blocks_forward + recompute) / virtual_stages * seconds_per_flop;
  costs.backward_input = costs.backward / 2.0;
  costs.backward_weight = costs.backward / 2.0;
  costs.first_stage_extra = 0.0;
  costs.last_stage_extra = head_forward * seconds_per_flop;

  const bool split_boundary = layout.sequence_parallel || layout.tensor_mode != TensorMode::one_d;
  const double boundary_bytes = double(layout.activationBytes()) * tokens / layout.sp * model.d_model /
                                (split_boundary ? layout.tp : 1);
  const bool intra_node = device.per_node <= 0 || pipelineSpan(layout, order) <= device.per_node;
  const double bandwidth = intra_node ? device.intra_node_bandwidth : device.inter_node_bandwidth;
  costs.transfer = layout.pp > 1 && bandwidth > 0.0 ? boundary_bytes / bandwidth + device.latency_s : 0.0;
  return costs;
}

PipelineTimeline plannedTimeline(const ModelDescription& model, const TrainingLayout& layout, const DeviceSpec& device,
                                 const std::array<Axis, kAxisCount>& order) {
  PipelineShape shape;
  shape.stages = layout.pp;
  shape.virtual_stages = layout.virtual_stages;
  shape.micro_batches = layout.micro_batches;
  const PipelineSchedulePlan schedule = buildPipelineSchedule(layout.schedule, shape);
  return simulatePipeline(schedule, shape, plannedActionCosts(model, layout, device, order));
}

}  // namespace behemoth
