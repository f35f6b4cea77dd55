// `behemoth run PROJECT --auto-plan`: the search's fastest plan this build can run, applied to
// the project (docs/planning.md).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "backend/project/project.h"
#include "parallel/plan_search.h"

namespace behemoth {

struct AutoPlanChoice {
  Project project;            // with the plan applied, validated for its world like any run
  RankedPlan plan;            // rank: its place among every plan that fits, runnable or not
  std::int64_t fitting = 0;   // plans that fit
  // What OUT_DIR/auto_plan.json records: {"chosen": the plan, "search": the search as
  // `behemoth plan --search --json` prints it, every plan marked runnable or not}.
  nlohmann::json record;
};

// Parses PATH with `overrides`, searches every layout of devices.count devices (the planning
// device: the CPUs' measured roofline), and applies the fastest runnable plan. Throws
// std::invalid_argument naming the file; with no runnable plan, the best plan and why it cannot run.
AutoPlanChoice chooseAutoPlan(const std::string& path, const std::vector<std::string>& overrides);

// "auto plan: dp2 tp1 pp1 zero0 mb4x1 (#1 of 12 plans that fit), predicted step 41.2 ms, 3110 tokens/s"
std::string autoPlanLine(const AutoPlanChoice& choice);

// Writes choice.record to OUT_DIR/auto_plan.json (the folder made when missing).
void writeAutoPlanRecord(const AutoPlanChoice& choice);

}  // namespace behemoth
