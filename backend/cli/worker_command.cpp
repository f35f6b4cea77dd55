// `behemoth worker PROJECT [--resume DIR]`: one rank started by `behemoth run` (hidden from help).
// The launcher passes the rank through BEHEMOTH_* variables and, to resume, the checkpoint's step
// directory it already resolved and checked; rank 0 hands events back as marker lines on stdout,
// and any rank that fails reports its one-line error the same way (the details go to its log file).
// SIGTERM (the launcher stopping the run) is a stop request: the trainer saves a final checkpoint.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <memory>

#include "backend/cli/commands.h"
#include "backend/cli/error_text.h"
#include "backend/cli/project_input.h"
#include "backend/cli/worker_environment.h"
#include "backend/metrics/event_sink.h"
#include "backend/metrics/events.h"
#include "backend/train/run_rank.h"
#include "backend/train/stop_request.h"

namespace behemoth {

namespace {

struct WorkerOptions {
  std::string project_path;
  std::string resume_dir;  // empty: start fresh
};

int runWorker(const WorkerOptions& options) {
  const auto rank = rankFromEnvironment();
  if (!rank) throw std::runtime_error("worker: no rank in the environment (start workers with `behemoth run`)");
  // The launcher checked the corpus before starting us; the trainer reads it once more and the
  // ranks compare its hash.
  const Project project = readProject(options.project_path, {}, rank->world_size, CorpusCheck::skip);
  const WorldInfo info = worldInfoFor(*rank, project.devices.kind, collectiveTimeout(std::chrono::seconds(300)));
  MarkerLineSink to_launcher(std::cout);
  // The launcher shows the user one line; LibTorch's backtrace and the full text go to the log.
  // Reported while this rank's world is still up, and before the (slower) log write, so the rank
  // that failed first is heard before its peers fail on the connections it leaves.
  const FailureReporter report = [&](const std::exception& error) {
    to_launcher.emit(runFailedEvent(reportedError(error, workerLogPath(project.train.out_dir, rank->rank)), rank->rank));
    appendWorkerLog(project.train.out_dir, rank->rank, fullErrorText(error));
  };
  TrainerOptions trainer_options;
  if (!options.resume_dir.empty()) trainer_options.resume_from = std::filesystem::path(options.resume_dir);
  installStopRequestHandlers();
  try {
    runRank(project, info, rank->rank == 0 ? &to_launcher : nullptr, report, trainer_options);
  } catch (const std::exception&) {
    return 1;  // already reported
  }
  return 0;
}

}  // namespace

void addWorkerCommand(CLI::App& app, std::function<int()>& action) {
  auto options = std::make_shared<WorkerOptions>();
  CLI::App* command = app.add_subcommand("worker", "");  // empty description: hidden from --help
  command->group("");
  command->add_option("project", options->project_path)->required();
  command->add_option("--resume", options->resume_dir);  // a step directory, resolved by the launcher
  command->callback([&action, options] { action = [options] { return runWorker(*options); }; });
}

}  // namespace behemoth
