#include "parallel/plan_estimate.h"

#include <cmath>

#include "parallel/comm_model.h"

namespace behemoth {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

}  // namespace

PlanEstimate estimatePlan(const ModelDescription& model, const TrainingLayout& layout, const DeviceSpec& device,
                          const MemoryAllowance& allowance, const std::array<Axis, kAxisCount>& order) {
  PlanEstimate estimate;
  estimate.layout = layout;
  estimate.memory = estimateMemory(model, layout, allowance);
  estimate.collectives = stepCollectives(model, layout, order, device.per_node, collectiveBackendFor(device.kind));
  estimate.time = estimateTime(model, layout, device, estimate.collectives);
  estimate.comm_bytes_per_step = stepCommBytes(estimate.collectives);
  const auto capacity = static_cast<std::int64_t>(std::llround(device.memory_bytes));
  estimate.shortfall_bytes = capacity > 0 ? estimate.memory.peakDeviceBytes() - capacity : 0;
  return estimate;
}

TrainingLayout withPlan(TrainingLayout layout, const Plan& plan) {
  layout.dp = plan.dp;
  layout.pp = plan.pp;
  layout.tp = plan.tp;
  layout.sp = plan.sp;
  layout.ep = plan.ep;
  layout.sequence_parallel = plan.sequence_parallel && plan.tp > 1;
  layout.tensor_mode = plan.tp > 1 ? tensorModeFromName(plan.tp_mode) : TensorMode::one_d;
  layout.tensor_depth = layout.tensor_mode == TensorMode::two_and_half_d ? plan.tp_depth : 1;
  layout.context_mode = contextModeFromName(plan.sp_mode);
  layout.zero = plan.zero;
  layout.bucket_mb = plan.bucket_mb;
  layout.overlap = plan.overlap;
  layout.optimizer_offload = plan.offload_optimizer ? 1.0 : 0.0;
  if (plan.zero == 3) {
    // ZeRO-3 states live in chunks; the fractions say how many chunks' shards leave the device.
    // chunk_mb is MiB of working-dtype elements, so set the layout's precision first.
    layout.optimizer_offload = plan.offload_optim_fraction;
    layout.parameter_offload = plan.offload_param_fraction;
    layout.disk_optim_fraction = plan.disk_optim_fraction;
    layout.chunk_elements = std::llround(plan.chunk_mb * kMiB / layout.workingBytes());
    layout.device_budget_bytes = std::llround(plan.device_budget_mb * kMiB);
    layout.placement = chunkPolicyFromName(plan.placement);
    layout.prefetch = plan.prefetch;
  }
  layout.reduce_format.reset();
  if (plan.reduce_dtype != "auto") layout.reduce_format = numericFormatFromName(plan.reduce_dtype);
  layout.schedule = pipelineScheduleFromName(plan.pp_schedule);
  layout.virtual_stages = plan.pp_virtual;
  return layout;
}

Plan planOf(const TrainingLayout& layout) {
  Plan plan;
  plan.dp = layout.dp;
  plan.pp = layout.pp;
  plan.tp = layout.tp;
  plan.sp = layout.sp;
  plan.ep = layout.ep;
  plan.sequence_parallel = layout.sequence_parallel;
  plan.tp_mode = tensorModeName(layout.tensor_mode);
  plan.tp_depth = layout.tensor_depth;
  plan.sp_mode = contextModeName(layout.context_mode);
  plan.zero = layout.zero;
  plan.bucket_mb = layout.bucket_mb;
  plan.overlap = layout.overlap;
  plan.offload_optimizer = layout.optimizer_offload > 0.0;
  if (layout.zero == 3) {
    plan.offload_optimizer = false;  // ZeRO-3 offloads chunk by chunk instead
    plan.offload_optim_fraction = layout.optimizer_offload;
    plan.offload_param_fraction = layout.parameter_offload;
    plan.disk_optim_fraction = layout.disk_optim_fraction;
    plan.chunk_mb = static_cast<double>(layout.chunk_elements) * layout.workingBytes() / kMiB;
    plan.device_budget_mb = static_cast<double>(layout.device_budget_bytes) / kMiB;
    plan.placement = chunkPolicyName(layout.placement);
    plan.prefetch = layout.prefetch;
  }
  plan.reduce_dtype = layout.reduce_format ? numericFormatName(*layout.reduce_format) : "auto";
  plan.pp_schedule = pipelineScheduleName(layout.schedule);
  plan.pp_virtual = layout.virtual_stages;
  return plan;
}

}  // namespace behemoth
