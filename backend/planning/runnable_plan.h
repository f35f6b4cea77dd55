// A searched layout applied to a project, and whether this build can run it. The one place a
// TrainingLayout turns back into project fields (plan_inputs' layoutFromProject goes the other
// way), and the one runnable check: the project validation itself (validateForWorld, whose
// rejectUnavailableFeatures lists what this build cannot run), so plans become runnable as
// strategies land there. See docs/planning.md.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "backend/project/project.h"
#include "memory/training_layout.h"

namespace behemoth {

// The project with the layout's axes, sp mode (context_mode as parallel.sp_mode), ZeRO stage,
// Megatron sequence parallelism, optimizer offload, pipeline schedule and model chunks (blocks
// split evenly: parallel.pp_layers cleared), micro-batch size and recomputation, the attention
// (fused_attention as model.attention blockwise, else dense), and under ZeRO-3 the chunk and tier keys. Precision,
// bucketing, overlap, reduce dtype, axis order and offload_dir stay the project's (the search
// copies them from it). Does not validate.
Project projectWithLayout(Project project, const TrainingLayout& layout);

// The project-file fields projectWithLayout decides, as dotted keys and values
// ("parallel.dp" = 2, ...): `--set` overrides, or edits of a project document. parallel.pp_layers
// is not listed: writeLayoutToJson removes it.
std::vector<std::pair<std::string, nlohmann::json>> layoutProjectFields(const TrainingLayout& layout);
// `key=value` strings for `behemoth run --set` (values as JSON).
std::vector<std::string> layoutOverrides(const TrainingLayout& layout);
// Writes those fields into a project document (and removes parallel.pp_layers: an even split;
// without ZeRO-3 also the chunk keys, which only stage 3 accepts).
void writeLayoutToJson(nlohmann::json& project, const TrainingLayout& layout);

// What of the layout the project file cannot express (outside ZeRO-3: a partial optimizer
// offload, parameter offload, ZeRO chunks; 2D/2.5D/3D tensor parallelism), one
// line naming the field; "" when all of it can be written.
std::string layoutOutsideProjectFile(const TrainingLayout& layout);

// How the devices are judged. project_devices: as the project gives them (a CUDA project on a
// CPU-only build cannot run). strategy_only: on this build's CPUs, for a plan made for hardware
// that is not here (the Studio's "what this build can run" filter).
enum class DeviceJudgement { project_devices, strategy_only };

// "" when this build can run the project with the layout applied on layout.worldSize() ranks;
// otherwise the one-line reason, naming the field: the first error validateForWorld raises, or
// what the project file cannot express.
std::string whyNotRunnable(const Project& project, const TrainingLayout& layout,
                           DeviceJudgement devices = DeviceJudgement::project_devices);

}  // namespace behemoth
