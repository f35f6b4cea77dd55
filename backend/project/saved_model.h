// The model sizes of a project as a run saved it (a checkpoint's state.json holds the resolved
// project). The section already holds every size, so model.hf_config and model.hf_pretrained are
// not read again: the Hugging Face files a run started from may be gone by the time it is exported.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "backend/model/model_config.h"

namespace behemoth {

// Throws std::invalid_argument naming the model.* field.
ModelConfig modelConfigOfSavedProject(const nlohmann::json& project);

}  // namespace behemoth
