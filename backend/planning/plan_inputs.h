// What the planner reads from a project: the model's description, the layout its plan and
// training settings describe, and the device figures. The one place backend/ types meet memory/.
#pragma once

#include "backend/model/model_config.h"
#include "backend/project/project.h"
#include "memory/model_description.h"
#include "memory/time_model.h"
#include "memory/training_layout.h"

namespace behemoth {

// Exact for the zoo: totalParameters(describeModel(c)) == c.parameterCount().
ModelDescription describeModel(const ModelConfig& config);

NumericFormat numericFormatOf(Precision precision);

// The project's resolved plan (plan.dp must not be -1): precision, micro-batching, the pipeline
// schedule and its virtual stages, recomputation, the sp mode (parallel.sp_mode) and whether
// attention is blockwise (model.attention: fused_attention); under ZeRO-3 the chunk size, the tier fractions,
// the device budget, the placement and the prefetch depth (parallel.* chunk keys).
TrainingLayout layoutFromProject(const Project& project);

// deviceSpec() for devices.kind / devices.name, with devices.memory_gb (10^9 bytes) and
// devices.per_node applied when given.
DeviceSpec deviceFromProject(const Project& project);

}  // namespace behemoth
