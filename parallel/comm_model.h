// The collectives one training step issues per rank, for any layout: which axis, which
// collective, how large, how often, over which link, and what it may overlap with. Bus bytes come
// from parallel/comm_counter's functions, the ones the engine counts its comm_bytes with, so a
// prediction and a measurement agree by construction where the engine runs the layout.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "memory/model_description.h"
#include "memory/time_model.h"
#include "memory/training_layout.h"
#include "parallel/plan.h"

namespace behemoth {

// `order`: axis nesting, outermost first (Plan::order); a group whose ranks span more than
// `per_node` consecutive devices crosses nodes (per_node <= 0: one node).
std::vector<CollectiveLoad> stepCollectives(const ModelDescription& model, const TrainingLayout& layout,
                                            const std::array<Axis, kAxisCount>& order, int per_node);

// Sum of count * bus_bytes: the comm_bytes a rank reports for one step.
std::int64_t stepCommBytes(const std::vector<CollectiveLoad>& loads);

}  // namespace behemoth
