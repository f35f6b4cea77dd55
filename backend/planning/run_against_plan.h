// What the planner predicts for a recorded run beside what the run measured, rank by rank: the
// estimate is recomputed from the run's recorded project, resolved plan and device, and each
// figure is paired with the run's own counter. How a user learns to trust (or not) the estimates.
// `behemoth history show ID --vs-plan` prints it; the Studio's compare view draws it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "backend/history/history_store.h"
#include "backend/planning/plan_device.h"
#include "parallel/mesh.h"

namespace behemoth {

// One figure: predicted and measured in the same unit; either may be absent (the run did not
// measure it, e.g. activations without train.measure_memory).
struct PlanFigure {
  std::string quantity;  // "model state", "peak memory", "activations", "comm per step", "step time"
  bool is_bytes = true;  // else seconds
  std::optional<double> predicted;
  std::optional<double> measured;
  // (measured - predicted) / predicted, when both are there and predicted is not zero.
  std::optional<double> relativeError() const;
};

struct RankAgainstPlan {
  int rank = 0;
  int stage = 0;
  Mesh::Coordinates coordinates{};
  std::string position;  // the coordinates along the axes larger than one: "dp1 tp0" ("-" for one rank)
  std::vector<PlanFigure> figures;  // model state, peak memory, activations
};

struct RunAgainstPlan {
  std::string device;  // what the estimate assumed: "cpu (1.2 TFLOP/s per rank)", "cuda A100-80GB"
  int world_size = 1;
  std::vector<PlanFigure> step;  // the whole step: comm per step (per rank), step time
  std::vector<RankAgainstPlan> ranks;
};

// Throws std::invalid_argument naming the problem when the run's recorded project no longer parses
// (a missing tokenizer file, a field this build refuses) or it logged no step.
RunAgainstPlan compareRunWithPlan(const RunDetails& details, const CpuRateChoice& rate = {});

// A table: per rank, each figure predicted, measured and the error; then the step's figures.
std::string formatRunAgainstPlan(const RunAgainstPlan& comparison);

}  // namespace behemoth
