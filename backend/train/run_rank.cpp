#include "backend/train/run_rank.h"

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <memory>

#include "backend/metrics/events.h"
#include "backend/metrics/event_sink.h"
#include "backend/metrics/metrics_continuation.h"
#include "parallel/world.h"

namespace behemoth {

namespace {

TrainOutcome trainInWorld(const Project& project, const WorldInfo& info, EventSink* sink, ProcessWorld& world,
                          Trainer& trainer, const TrainerOptions& options);

}  // namespace

TrainOutcome runRank(const Project& project, const WorldInfo& info, EventSink* sink, const FailureReporter& report_failure,
                     const TrainerOptions& options) {
  // One math thread per rank: ranks share the machine's cores.
  if (info.world_size > 1) at::set_num_threads(1);
  // Declared outside the try: a catch handler runs after the try block's locals are destroyed,
  // and the world must still be up when the failure is reported.
  std::unique_ptr<ProcessWorld> world;
  std::unique_ptr<Trainer> trainer;
  try {
    world = std::make_unique<ProcessWorld>(info, project.plan);
    TrainerOptions trainer_options = options;
    trainer_options.write_checkpoints = true;  // a real run honours train.checkpoint_*
    trainer = std::make_unique<Trainer>(project, *world, trainer_options);
    return trainInWorld(project, info, sink, *world, *trainer, trainer_options);
  } catch (const std::exception& error) {
    if (report_failure) report_failure(error);
    throw;
  }
}

namespace {

TrainOutcome trainInWorld(const Project& project, const WorldInfo& info, EventSink* sink, ProcessWorld& world,
                          Trainer& trainer, const TrainerOptions& options) {
  FanoutSink events;
  const std::int64_t start_step = trainer.startStep();
  if (info.rank == 0) {
    // A resumed run continues the metrics file: the steps up to the checkpoint stay, those a
    // crashed attempt logged after it go (they are about to be logged again). A run that starts
    // from step 0 keeps none: its file holds its own steps, each once.
    continueMetricsFile(project.train.out_dir, start_step);
    events.add(makeMetricsFileSink(project.train.out_dir));
    if (sink) events.add(std::shared_ptr<EventSink>(sink, [](EventSink*) {}));  // not owned
    RunStartedInfo started;
    started.name = project.name;
    started.project = projectToJson(project);
    started.plan = started.project["parallel"];
    started.world_size = info.world_size;
    started.out_dir = project.train.out_dir;
    started.parameter_count = trainer.parameterCount();
    started.total_steps = project.train.steps;
    started.tokenizer = trainer.tokenizerKind();
    started.tokens = trainer.tokenCount();
    events.emit(runStartedEvent(started));
    // A real tokenizer's figures and cache on the terminal and in the history's log.
    if (started.tokenizer != "byte") events.emit(logEvent(trainer.dataSummary()));
    if (start_step > 0) {
      const std::string checkpoint = options.resume_from ? options.resume_from->string() : std::string();
      events.emit(runResumedEvent(start_step, checkpoint, trainer.resumedLayout(), trainer.resumeSeconds(),
                                  trainer.resumeBytesRead()));
    }
  }
  const auto start = std::chrono::steady_clock::now();
  TrainOutcome outcome = trainer.run(info.rank == 0 ? &events : nullptr);
  if (info.rank == 0) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    events.emit(runFinishedEvent(outcome.losses.empty() ? 0.0 : outcome.losses.back(),
                                 outcome.eval_losses.empty() ? std::nullopt
                                                             : std::optional<double>(outcome.eval_losses.back().second),
                                 seconds, outcome.stopped ? "stopped" : "completed"));
  }
  world.world().barrier();
  return outcome;
}

}  // namespace

}  // namespace behemoth
