#include "ui/auto_plan.h"

#include <QObject>

#include <algorithm>

#include "backend/planning/plan_inputs.h"
#include "backend/project/project.h"

namespace behemoth::ui {
namespace {

constexpr int kPlansShown = 8;

// Whether this build can run the layout as a project file describes it (all-or-nothing offload,
// no strategy rejectUnavailableFeatures refuses). Devices are judged elsewhere.
bool runnable(Project project, const TrainingLayout& layout) {
  if (layout.optimizer_offload > 0 && layout.optimizer_offload < 1) return false;
  if (layout.parameter_offload > 0 || layout.recompute != Recompute::none) return false;
  project.plan = planOf(layout);
  project.plan.offload_optimizer = layout.optimizer_offload > 0;
  project.devices.kind = "cpu";
  try {
    rejectUnavailableFeatures(project);
  } catch (const std::invalid_argument&) {
    return false;
  }
  return true;
}

}  // namespace

AutoPlanOutcome runAutoPlan(const nlohmann::json& json, const std::string& base_dir, bool runnable_only) {
  AutoPlanOutcome outcome;
  try {
    Project project = projectFromJson(json, base_dir);
    // The search picks the axes; any resolvable layout of the devices serves as the base.
    Project base = project;
    base.plan.dp = -1;
    base.plan.pp = base.plan.tp = base.plan.sp = base.plan.ep = 1;
    base.plan.resolve(project.devices.count);
    SearchRequest request;
    request.model = describeModel(project.model);
    request.device = deviceFromProject(project);
    request.allowance = defaultAllowance(request.device.kind);
    request.devices = project.devices.count;
    request.global_batch = project.data.global_batch_size;
    request.base = layoutFromProject(base);
    request.keep = runnable_only ? 200 : kPlansShown;  // filtered below
    if (runnable_only) {
      request.allow_tensor = false;
      request.allow_pipeline = false;
      request.allow_context = false;
      request.allow_recompute = false;
    }
    outcome.result = searchPlans(request);
    if (runnable_only) {
      std::vector<RankedPlan>& best = outcome.result.best;
      best.erase(std::remove_if(best.begin(), best.end(),
                                [&](const RankedPlan& plan) { return !runnable(project, plan.estimate.layout); }),
                 best.end());
      if (best.size() > kPlansShown) best.resize(kPlansShown);
    }
  } catch (const std::exception& error) {
    outcome.error = QString::fromStdString(error.what());
  }
  return outcome;
}

QStringList applyLayout(nlohmann::json& project, const TrainingLayout& layout) {
  QStringList notes;
  nlohmann::json& parallel = project["parallel"];
  parallel["dp"] = layout.dp;
  parallel["pp"] = layout.pp;
  parallel["tp"] = layout.tp;
  parallel["sp"] = layout.sp;
  parallel["ep"] = layout.ep;
  parallel["zero"] = layout.zero;
  parallel["offload_optimizer"] = layout.optimizer_offload > 0;
  if (layout.optimizer_offload > 0 && layout.optimizer_offload < 1) {
    notes << QObject::tr("the planner offloads %1 % of the optimizer states; the project file offloads all or nothing")
                 .arg(layout.optimizer_offload * 100, 0, 'f', 0);
  }
  project["train"]["micro_batch_size"] = layout.micro_batch_size;
  if (layout.pp > 1) notes << QObject::tr("pipeline schedule %1").arg(QString::fromStdString(pipelineScheduleName(layout.schedule)));
  if (layout.recompute != Recompute::none) {
    notes << QObject::tr("activation recomputation (%1)").arg(QString::fromStdString(recomputeName(layout.recompute)));
  }
  if (layout.tp > 1 && layout.sequence_parallel) notes << QObject::tr("Megatron sequence parallelism");
  if (layout.parameter_offload > 0) notes << QObject::tr("parameter offload");
  return notes;
}

}  // namespace behemoth::ui
