#include "backend/planning/auto_plan.h"

#include "backend/planning/plan_inputs.h"

namespace behemoth {

TrainingLayout searchBaseLayout(const Project& project) {
  Project base = project;
  base.plan.dp = -1;
  base.plan.pp = base.plan.tp = base.plan.sp = base.plan.ep = 1;
  base.plan.pp_virtual = 1;
  base.plan.pp_layers.clear();
  base.plan.resolve(project.devices.count);
  // The search chooses the micro-batching: any batch that divides the devices serves here.
  base.train.micro_batch_size = 0;
  base.data.global_batch_size = project.devices.count;
  return layoutFromProject(base);
}

SearchRequest autoPlanRequest(const Project& project, const DeviceSpec& device, DeviceJudgement devices) {
  SearchRequest request;
  request.model = describeModel(project.model);
  request.device = device;
  request.allowance = defaultAllowance(device.kind);
  request.devices = project.devices.count;
  request.global_batch = project.data.global_batch_size;
  request.base = searchBaseLayout(project);
  request.why_not_runnable = [project, devices](const TrainingLayout& layout) {
    return whyNotRunnable(project, layout, devices);
  };
  return request;
}

std::string noRunnablePlanMessage(const SearchResult& result) {
  if (!result.anythingFits()) return result.message;
  const RankedPlan& best = result.best.front();
  return "none of the " + std::to_string(result.fitting) + " plans that fit can run in this build; the best, " +
         best.summary + ", cannot: " + best.not_runnable;
}

}  // namespace behemoth
