// The search `behemoth plan --search`, `behemoth run --auto-plan` and the Studio's Auto plan run:
// every layout of the project's devices for its model and global batch, each plan judged by
// whyNotRunnable (runnable_plan.h). See docs/planning.md.
#pragma once

#include <string>

#include "backend/planning/runnable_plan.h"
#include "backend/project/project.h"
#include "memory/time_model.h"
#include "parallel/plan_search.h"

namespace behemoth {

// The layout the search takes its unsearched fields from (precision, bucketing, overlap, reduce
// dtype): the project's, on plain data parallelism over devices.count, so that a project whose
// own axes do not divide its devices can still be searched.
TrainingLayout searchBaseLayout(const Project& project);

// The request for the project on `device` (the planning device: plan_device.h), with
// searchBaseLayout as base and the plans judged against the project as `devices` says.
SearchRequest autoPlanRequest(const Project& project, const DeviceSpec& device,
                              DeviceJudgement devices = DeviceJudgement::project_devices);

// One line for a search with no runnable plan: what misses when nothing fits, else the best
// plan and why this build cannot run it.
std::string noRunnablePlanMessage(const SearchResult& result);

}  // namespace behemoth
