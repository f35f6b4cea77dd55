// The list simulation zero_bubble.cpp derives ZB-H1's order with, exposed so that tests (and the
// docs' figures) can compare activation budgets. No LibTorch.
#pragma once

#include <vector>

#include "parallel/pipeline/pipeline_schedule.h"

namespace behemoth {

// Compute actions per rank (forward, backward_input, backward_weight; no communication) of ZB-H1
// for `shape` (v = 1) when rank r may hold at most activation_budget[r] micro-batches between
// their forward and their backward_weight. zeroBubbleSchedule uses pp on every rank.
std::vector<std::vector<PipelineAction>> zeroBubbleComputeOrder(const PipelineShape& shape,
                                                                const std::vector<int>& activation_budget);

}  // namespace behemoth
