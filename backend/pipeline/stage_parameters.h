// What a pipeline stage builds, and the whole model's parameters gathered from every stage.
#pragma once

#include <ATen/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "backend/model/language_model.h"

namespace behemoth {

class Group;
struct Project;

// pp rank `stage`'s part of the project's model: its chunks' blocks (parallel.pp_layers or the
// even split), the embedding on stage 0, the head on the last. The whole model when pp is 1.
ModelPart stageModelPart(const Project& project, int stage);

// Every stage's (name, full tensor) pairs, on every rank of the pp group, in the whole model's
// parameter order; a name held by two stages (the tied embedding) appears once, from the first.
// A collective over `pp`: every stage calls it with its own pairs.
std::vector<std::pair<std::string, at::Tensor>> gatherStageParameters(
    const std::vector<std::pair<std::string, at::Tensor>>& mine, Group& pp);

// Every stage's parameter names and global shapes, on every rank of the pp group, in the whole
// model's order (a checkpoint is checked against the whole model, not one stage). A collective.
std::vector<std::pair<std::string, std::vector<std::int64_t>>> gatherStageShapes(
    const std::vector<std::pair<std::string, std::vector<std::int64_t>>>& mine, Group& pp);

}  // namespace behemoth
