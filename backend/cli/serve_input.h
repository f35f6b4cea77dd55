// What `behemoth serve INPUT` serves: the project (sizes, tokenizer, serve.*) and where the weights
// come from. INPUT is a project file (its model.hf_pretrained, else the newest checkpoint in its
// train.out_dir, else its seed), a checkpoint step directory or an out_dir (the project the run
// saved in it), or a Hugging Face model directory (config.json and safetensors).
#pragma once

#include <string>
#include <vector>

#include "backend/project/project.h"
#include "backend/serve/serve_weights.h"

namespace behemoth {

struct ServeInput {
  Project project;  // its plan: tensor parallelism over every serving rank
  WeightsSource weights;
};

// Applies `overrides` (--set) to the project before parsing it, and validates it for `ranks`
// tensor-parallel ranks. Throws std::invalid_argument naming INPUT and the problem.
ServeInput resolveServeInput(const std::string& input, const std::vector<std::string>& overrides, int ranks);

}  // namespace behemoth
