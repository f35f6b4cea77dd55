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

// Searches every layout of the project's devices for its model and global batch. With
// `runnable_only`, only strategies this build can run are searched (dp, ZeRO 1/2, offload).
AutoPlanOutcome runAutoPlan(const nlohmann::json& project, const std::string& base_dir, bool runnable_only);

// Writes the layout's axes, ZeRO stage, optimizer offload and micro-batch size into the project
// JSON. Returns what the project file cannot express (the schedule, recomputation, ...), for the user.
QStringList applyLayout(nlohmann::json& project, const TrainingLayout& layout);

}  // namespace behemoth::ui
