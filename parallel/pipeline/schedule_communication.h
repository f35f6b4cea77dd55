// Turns a rank's order of compute actions into its full action list by adding the sends and
// receives around them (the conventions in pipeline_schedule.h). Every builder uses it, so the
// communication rules live in one place.
#pragma once

#include <vector>

#include "parallel/pipeline/pipeline_schedule.h"

namespace behemoth {

std::vector<PipelineAction> withCommunication(const std::vector<PipelineAction>& compute, int rank, const PipelineShape& shape);

}  // namespace behemoth
