// `behemoth plan --schedule-json`: a project's pipeline schedule as data (docs/pipeline.md,
// "Schedules"): the action list of every rank and its simulation with unit costs.
#pragma once

#include <nlohmann/json.hpp>

#include <vector>

#include "parallel/pipeline/pipeline_schedule.h"
#include "parallel/pipeline/stage_layers.h"

namespace behemoth {

// {"schedule", "pp", "pp_virtual", "micro_batches", "stage_blocks": [[first, count] per virtual
// stage], "ranks": [[{"kind", "micro_batch", "chunk"}, ...] per rank], "costs": {...},
// "simulated": {"makespan", "bubble_fraction": [...], "peak_in_flight": [...]}}, simulated with
// the default ActionCosts (forward 1, backward 2, backward_input and backward_weight 1 each).
nlohmann::json scheduleJson(PipelineSchedule schedule, const PipelineShape& shape, const std::vector<BlockRange>& stage_blocks);

}  // namespace behemoth
