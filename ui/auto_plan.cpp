#include "ui/auto_plan.h"

#include "backend/planning/auto_plan.h"
#include "backend/planning/plan_inputs.h"
#include "backend/planning/runnable_plan.h"
#include "backend/project/project.h"

namespace behemoth::ui {
namespace {

constexpr int kPlansShown = 8;

}  // namespace

AutoPlanOutcome runAutoPlan(const nlohmann::json& json, const std::string& base_dir, bool runnable_only) {
  AutoPlanOutcome outcome;
  try {
    const Project project = projectFromJson(json, base_dir);
    // Plans are judged by the engine's validation on this build's CPUs: the devices may be ones
    // that are not here (the memory panel judges those).
    SearchRequest request = autoPlanRequest(project, deviceFromProject(project), DeviceJudgement::strategy_only);
    request.keep = kPlansShown;
    request.keep_runnable = kPlansShown;
    outcome.result = searchPlans(request);
    if (runnable_only) {
      SearchResult& result = outcome.result;
      if (result.runnable.empty() && result.anythingFits()) result.message = noRunnablePlanMessage(result);
      result.best = result.runnable;
    }
  } catch (const std::exception& error) {
    outcome.error = QString::fromStdString(error.what());
  }
  return outcome;
}

QStringList applyLayout(nlohmann::json& project, const TrainingLayout& layout) {
  writeLayoutToJson(project, layout);
  QStringList notes;
  const std::string outside = layoutOutsideProjectFile(layout);
  if (!outside.empty()) notes << QString::fromStdString(outside);
  return notes;
}

}  // namespace behemoth::ui
