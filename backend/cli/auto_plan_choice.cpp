#include "backend/cli/auto_plan_choice.h"

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "backend/cli/project_input.h"
#include "backend/planning/auto_plan.h"
#include "backend/planning/plan_device.h"
#include "backend/planning/plan_report.h"

namespace behemoth {

AutoPlanChoice chooseAutoPlan(const std::string& path, const std::vector<std::string>& overrides) {
  const Project parsed = parseProject(path, overrides);
  SearchResult result;
  try {
    SearchRequest request = autoPlanRequest(parsed, planningDevice(parsed));
    request.keep = 10;  // for the record: the plans ranked above the chosen one, and why they cannot run
    result = searchPlans(request);
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(path + ": " + error.what());
  }
  if (result.runnable.empty()) throw std::invalid_argument(path + ": --auto-plan: " + noRunnablePlanMessage(result));
  AutoPlanChoice choice;
  choice.plan = result.runnable.front();
  choice.fitting = result.fitting;
  const TrainingLayout& layout = choice.plan.estimate.layout;
  choice.project = validatedProject(projectWithLayout(parsed, layout), path, layout.worldSize());
  const nlohmann::json search = searchResultToJson(result);
  choice.record = {{"chosen", search.at("runnable").at(0)}, {"search", search}};
  return choice;
}

std::string autoPlanLine(const AutoPlanChoice& choice) {
  const TimeEstimate& time = choice.plan.estimate.time;
  char figures[128];
  std::snprintf(figures, sizeof figures, "predicted step %.2f ms, %.0f tokens/s", time.step_s * 1e3, time.tokens_per_s);
  return "auto plan: " + choice.plan.summary + " (#" + std::to_string(choice.plan.rank) + " of " +
         std::to_string(choice.fitting) + " plans that fit), " + figures;
}

void writeAutoPlanRecord(const AutoPlanChoice& choice) {
  const std::filesystem::path dir = choice.project.train.out_dir;
  std::filesystem::create_directories(dir);
  writeFileAtomically((dir / "auto_plan.json").string(), choice.record.dump(2) + "\n");
}

}  // namespace behemoth
