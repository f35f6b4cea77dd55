// One call for everything the Studio shows about a plan: per-stage memory, the step's
// collectives, and the step time. Cheap (microseconds): call it on every edit.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "memory/memory_model.h"
#include "memory/model_description.h"
#include "memory/time_model.h"
#include "memory/training_layout.h"
#include "parallel/plan.h"

namespace behemoth {

struct PlanEstimate {
  TrainingLayout layout;
  MemoryEstimate memory;
  std::vector<CollectiveLoad> collectives;
  TimeEstimate time;
  std::int64_t comm_bytes_per_step = 0;  // per rank, as the engine reports comm_bytes
  // Bytes over the device's memory on the fullest stage (<= 0: fits).
  std::int64_t shortfall_bytes = 0;
  bool fits() const { return shortfall_bytes <= 0; }
};

PlanEstimate estimatePlan(const ModelDescription& model, const TrainingLayout& layout, const DeviceSpec& device,
                          const MemoryAllowance& allowance, const std::array<Axis, kAxisCount>& order = Plan{}.order);

// The axes, sp mode (parallel.sp_mode as context_mode), ZeRO stage, bucketing and pipeline
// schedule of a resolved Plan copied into a layout (other fields kept). Under ZeRO-3 also the chunk and tier keys: chunk_mb becomes chunk_elements
// in the layout's working dtype (set layout.precision before), offload_param_fraction /
// offload_optim_fraction become parameter_offload / optimizer_offload.
TrainingLayout withPlan(TrainingLayout layout, const Plan& plan);
// The Plan a layout describes (the project's `parallel` section); the inverse of withPlan.
Plan planOf(const TrainingLayout& layout);

}  // namespace behemoth
