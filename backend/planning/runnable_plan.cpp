#include "backend/planning/runnable_plan.h"

#include <cstdio>
#include <stdexcept>

#include "parallel/plan_estimate.h"

namespace behemoth {
namespace {

std::string percent(double fraction) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.0f %%", fraction * 100.0);
  return buffer;
}

}  // namespace

Project projectWithLayout(Project project, const TrainingLayout& layout) {
  // The searched axes and strategies through planOf (the inverse of the estimate's withPlan); the
  // project keeps its own gradient buckets, overlap, reduce dtype and axis nesting, and the stages
  // split evenly (pp_layers empty).
  Plan plan = planOf(layout);
  plan.sequence_parallel = plan.sequence_parallel && plan.tp > 1;
  plan.bucket_mb = project.plan.bucket_mb;
  plan.overlap = project.plan.overlap;
  plan.reduce_dtype = project.plan.reduce_dtype;
  plan.order = project.plan.order;
  if (plan.zero == 3) plan.offload_dir = project.plan.offload_dir;
  project.plan = plan;
  project.train.micro_batch_size = layout.micro_batch_size;
  project.train.recompute = recomputeName(layout.recompute);
  // "auto" stays when it already resolves to the layout's attention.
  const AttentionKind wanted = layout.fused_attention ? AttentionKind::blockwise : AttentionKind::dense;
  if (project.model.resolvedAttention() != wanted) project.model.attention = wanted;
  return project;
}

std::vector<std::pair<std::string, nlohmann::json>> layoutProjectFields(const TrainingLayout& layout) {
  const Project applied = projectWithLayout(Project{}, layout);
  const Plan& plan = applied.plan;
  std::vector<std::pair<std::string, nlohmann::json>> fields = {{"parallel.dp", plan.dp},
          {"parallel.pp", plan.pp},
          {"parallel.tp", plan.tp},
          {"parallel.tp_mode", plan.tp_mode},
          {"parallel.tp_depth", plan.tp_depth},
          {"parallel.sp", plan.sp},
          {"parallel.sp_mode", plan.sp_mode},
          {"parallel.ep", plan.ep},
          {"parallel.zero", plan.zero},
          {"parallel.sequence_parallel", plan.sequence_parallel},
          {"parallel.offload_optimizer", plan.offload_optimizer},
          {"parallel.pp_schedule", plan.pp_schedule},
          {"parallel.pp_virtual", plan.pp_virtual},
          {"train.micro_batch_size", applied.train.micro_batch_size},
          {"train.recompute", applied.train.recompute},
          {"model.attention", attentionKindName(applied.model.attention)}};
  if (plan.zero == 3) {
    // ZeRO-3's chunk keys are in the project file (docs/project-file.md); offload_dir stays the
    // project's own (a directory, not something a search chooses).
    const std::vector<std::pair<std::string, nlohmann::json>> chunk_fields = {
        {"parallel.chunk_mb", plan.chunk_mb},
        {"parallel.device_budget_mb", plan.device_budget_mb},
        {"parallel.placement", plan.placement},
        {"parallel.offload_param_fraction", plan.offload_param_fraction},
        {"parallel.offload_optim_fraction", plan.offload_optim_fraction},
        {"parallel.disk_optim_fraction", plan.disk_optim_fraction},
        {"parallel.prefetch", plan.prefetch}};
    fields.insert(fields.end(), chunk_fields.begin(), chunk_fields.end());
  }
  return fields;
}

std::vector<std::string> layoutOverrides(const TrainingLayout& layout) {
  std::vector<std::string> overrides;
  for (const auto& [key, value] : layoutProjectFields(layout)) overrides.push_back(key + "=" + value.dump());
  return overrides;
}

void writeLayoutToJson(nlohmann::json& project, const TrainingLayout& layout) {
  for (const auto& [key, value] : layoutProjectFields(layout)) {
    const std::size_t dot = key.find('.');
    project[key.substr(0, dot)][key.substr(dot + 1)] = value;
  }
  project["parallel"].erase("pp_layers");
  if (layout.zero != 3) {
    // The chunk keys are refused without ZeRO-3: a plan that leaves stage 3 drops them.
    for (const char* key : {"chunk_mb", "device_budget_mb", "placement", "offload_param_fraction",
                            "offload_optim_fraction", "disk_optim_fraction", "offload_dir", "prefetch"}) {
      project["parallel"].erase(key);
    }
  }
}

std::string layoutOutsideProjectFile(const TrainingLayout& layout) {
  // ZeRO-3 says per chunk what leaves the device (parallel.offload_*_fraction, chunk_mb).
  const bool chunked = layout.zero == 3;
  if (!chunked && layout.optimizer_offload > 0.0 && layout.optimizer_offload < 1.0) {
    return "parallel.offload_optimizer: the plan offloads " + percent(layout.optimizer_offload) +
           " of the optimizer states; the project file offloads all or nothing";
  }
  if (!chunked && layout.parameter_offload > 0.0) {
    return "parallel.zero: the plan offloads " + percent(layout.parameter_offload) +
           " of the parameters (ZeRO-3 parameter offload), which the project file cannot express";
  }
  if (!chunked && layout.chunk_elements > 0) return "parallel.zero: the plan's ZeRO chunks are not in the project file";
  return "";
}

std::string whyNotRunnable(const Project& project, const TrainingLayout& layout, DeviceJudgement devices) {
  Project applied = projectWithLayout(project, layout);
  if (devices == DeviceJudgement::strategy_only) applied.devices.kind = "cpu";
  try {
    validateForWorld(applied, layout.worldSize());
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return layoutOutsideProjectFile(layout);
}

}  // namespace behemoth
