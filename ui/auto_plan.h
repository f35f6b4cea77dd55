// "Auto plan": the engine's planner search for the open project, and applying a found layout
// back onto the project file.
#pragma once

#include <QString>
#include <QStringList>

#include <nlohmann/json.hpp>
#include <string>

#include "parallel/plan_search.h"

namespace behemoth::ui {

struct AutoPlanOutcome {
  SearchResult result;
  QString error;  // the project could not be searched (names the field)
};

// Searches every layout of the project's devices for its model and global batch; each plan is
// marked runnable or not by the engine's check (backend/planning/runnable_plan.h, strategies
// judged on this build's CPUs). With `runnable_only`, `best` holds the fastest runnable plans.
AutoPlanOutcome runAutoPlan(const nlohmann::json& project, const std::string& base_dir, bool runnable_only);

// Writes the fields the layout decides into the project JSON (writeLayoutToJson). Returns what
// the project file cannot express (a partial offload, ...), for the user.
QStringList applyLayout(nlohmann::json& project, const TrainingLayout& layout);

}  // namespace behemoth::ui
