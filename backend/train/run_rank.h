// One rank of a training job, start to finish: the process world, the trainer, the run events.
#pragma once

#include <exception>
#include <functional>

#include "backend/project/project.h"
#include "backend/train/trainer.h"

namespace behemoth {

class EventSink;
struct WorldInfo;

// Builds the world for `info`, trains `project` (validated for info.world_size) and returns the
// outcome. Rank 0 sends run_started, step, eval and run_finished events to `sink` (may be null)
// and appends step/eval events to OUT_DIR/metrics.jsonl. Errors propagate as exceptions, after
// `report_failure` (when given) has seen them while this rank's world is still up: the rank that
// failed first reports before its peers see their connections close and fail in turn.
// With options.resume_from the run continues from that checkpoint (run_resumed follows
// run_started, and metrics.jsonl keeps only the steps up to the checkpoint's before appending).
using FailureReporter = std::function<void(const std::exception&)>;
TrainOutcome runRank(const Project& project, const WorldInfo& info, EventSink* sink,
                     const FailureReporter& report_failure = {}, const TrainerOptions& options = {});

}  // namespace behemoth
