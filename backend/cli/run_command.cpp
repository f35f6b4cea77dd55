// `behemoth run PROJECT [--nproc N | --auto-plan] [--set key=value ...] [--resume [latest|PATH]] [--max-restarts K]`:
// validates the project (and the checkpoint to resume) for the whole world before anything
// starts, then trains it in this process (one rank), as a worker of mpirun / srun, or by launching
// N local worker processes (and joining other nodes with --nnodes), restarting them from the
// newest checkpoint when one fails, up to K times.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <stdlib.h>  // mkdtemp

#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/cli/auto_plan_choice.h"
#include "backend/cli/commands.h"
#include "backend/cli/error_text.h"
#include "backend/cli/project_input.h"
#include "backend/cli/restart_checkpoint.h"
#include "backend/cli/worker_environment.h"
#include "backend/history/history_recorder.h"
#include "backend/history/history_store.h"
#include "backend/launch/environment_names.h"
#include "backend/launch/launcher.h"
#include "backend/launch/self_executable.h"
#include "backend/launch/signal_name.h"
#include "backend/metrics/events.h"
#include "backend/metrics/progress_printer.h"
#include "backend/metrics/event_sink.h"
#include "backend/metrics/json_lines_sink.h"
#include "backend/metrics/metrics_continuation.h"
#include "backend/planning/memory_fit.h"
#include "backend/train/run_rank.h"
#include "backend/train/stop_request.h"

namespace behemoth {

namespace {

struct RunOptions {
  std::string project_path;
  int nproc = 1;
  int nnodes = 1;
  int node_rank = 0;
  std::string master;
  std::vector<std::string> overrides;
  bool events = false;        // JSON event lines on stdout instead of the progress line
  std::string history_path;   // empty: the default history database
  bool no_history = false;
  bool force = false;         // run even when the memory model says the machine is too small
  int timeout_s = 300;
  std::optional<std::string> resume;  // --resume: "latest" or a checkpoint path
  std::string resume_text;            // what CLI11 parsed into (--resume alone: "latest")
  int max_restarts = 0;
  bool auto_plan = false;     // run the search's fastest runnable plan (docs/planning.md)
  bool nproc_given = false;
};

namespace fs = std::filesystem;

// The step directory --resume names, checked before anything starts (a one-line error naming the
// path otherwise); absolute, so that workers started elsewhere read the same one.
std::optional<fs::path> checkpointToResume(const Project& project, const RunOptions& options) {
  if (!options.resume) return std::nullopt;
  return fs::absolute(resolveCheckpoint(project.train.out_dir, *options.resume));
}

TrainerOptions trainerOptions(const std::optional<fs::path>& resume_from) {
  TrainerOptions trainer;
  trainer.resume_from = resume_from;
  return trainer;
}

// Refuses a CPU run whose estimated memory exceeds what this machine has available.
void checkMachineMemory(const Project& project, const RunOptions& options, int local_ranks) {
  if (options.force) return;
  const auto available = availableMemoryBytes();
  if (!available) return;  // no /proc/meminfo: nothing to compare with
  try {
    checkFitsThisMachine(project, local_ranks, *available);
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(options.project_path + ": " + error.what());
  }
}

// Where this process's view of the run goes: the history, and the terminal or the event stream.
class HostSinks {
 public:
  HostSinks(const RunOptions& options, bool record_history, int total_steps) {
    if (record_history && !options.no_history) {
      fanout_.add(std::make_shared<HistoryRecorder>(std::make_shared<HistoryStore>(options.history_path.empty() ? HistoryStore::defaultPath() : options.history_path)));
    }
    if (options.events) {
      fanout_.add(std::make_shared<JsonLinesSink>(std::cout));
    } else {
      fanout_.add(std::make_shared<ProgressPrinter>(std::cout, total_steps));
    }
  }
  EventSink& sink() { return fanout_; }

 private:
  FanoutSink fanout_;
};

bool startedByMpiOrSlurm() {
  const auto rank = rankFromEnvironment();
  return rank && rank->world_size > 1;
}

int runInThisProcess(const Project& project, const RunOptions& options, const LaunchedRank& rank,
                     const std::optional<fs::path>& resume_from) {
  HostSinks host(options, /*record_history=*/rank.rank == 0, project.train.steps);
  const WorldInfo info = worldInfoFor(rank, project.devices.kind, std::chrono::seconds(options.timeout_s));
  // Ctrl-C (or the scheduler's SIGTERM) stops at the next step with a final checkpoint.
  installStopRequestHandlers();
  try {
    const TrainOutcome outcome =
        runRank(project, info, rank.rank == 0 ? &host.sink() : nullptr, {}, trainerOptions(resume_from));
    if (outcome.stopped) {
      const std::int64_t last_step = outcome.first_step + static_cast<std::int64_t>(outcome.losses.size());
      if (rank.rank == 0) std::cerr << "behemoth: run stopped after step " << last_step << "\n";
      return 130;
    }
  } catch (const std::exception& error) {
    // One line for the user; the whole text (LibTorch's backtrace) in the rank's log file.
    const std::string message = reportedError(error, workerLogPath(project.train.out_dir, rank.rank));
    appendWorkerLog(project.train.out_dir, rank.rank, fullErrorText(error));
    if (rank.rank == 0) host.sink().emit(runFailedEvent(message, rank.rank));
    throw std::runtime_error("run failed: rank " + std::to_string(rank.rank) + ": " + message);
  }
  return 0;
}

// The one-line reason a restart gives: the root cause's first line, naming its rank.
std::string restartReason(const RankError& cause) {
  std::string line = cause.message.substr(0, cause.message.find('\n'));
  const std::string rank = "rank " + std::to_string(cause.rank);
  if (line.compare(0, rank.size(), rank) != 0) line = rank + ": " + line;
  return line;
}

int launchLocalWorkers(const Project& project, const RunOptions& options, const std::optional<fs::path>& resume_from) {
  // Workers read the project exactly as validated here (overrides applied, paths resolved).
  const std::string resolved = project.train.out_dir + "/project.json";
  writeFileAtomically(resolved, projectToJson(project).dump(2) + "\n");

  WorkerSpec spec;
  spec.executable = selfExecutablePath();
  spec.nproc = options.nproc;
  spec.nnodes = options.nnodes;
  spec.node_rank = options.node_rank;
  if (!options.master.empty()) std::tie(spec.master_addr, spec.master_port) = parseMaster(options.master);
  ::setenv("BEHEMOTH_TIMEOUT_S", std::to_string(options.timeout_s).c_str(), 1);

  const bool host_of_run = options.node_rank == 0;
  HostSinks host(options, host_of_run, project.train.steps);
  bool finished = false;
  std::vector<RankError> reported_errors;  // one-line errors of failed ranks, as they arrive
  const auto on_stdout = [&](int rank, const std::string& line) {
    if (auto event = parseMarkerLine(line)) {
      if (event->value("event", "") == "run_failed") {
        // Held back: the launcher reports the failure once, naming the rank that failed first.
        reported_errors.push_back({rank, event->value("error", "")});
        return;
      }
      finished = finished || event->value("event", "") == "run_finished";
      host.sink().emit(*event);
    } else {
      (options.events ? std::cerr : std::cout) << "[rank " << rank << "] " << line << "\n";
    }
  };
  const auto on_stderr = [](int rank, const std::string& line) { std::cerr << "[rank " << rank << "] " << line << "\n"; };

  const RestartCheckpoints restart_points(project.train.out_dir, resume_from);
  std::optional<fs::path> resume = resume_from;
  for (int restart = 0;; ++restart) {
    spec.args = {"worker", resolved};
    if (resume) spec.args.insert(spec.args.end(), {"--resume", resume->string()});
    spec.extra_environment = {std::string(launch_env::kRestart) + "=" + std::to_string(restart)};
    if (options.master.empty()) spec.master_port = 0;  // a fresh rendezvous port for every start
    finished = false;
    reported_errors.clear();
    const LaunchResult result = launchWorkers(spec, on_stdout, on_stderr);
    if (result.interrupted_by != 0) {
      // The user stopped the run (Ctrl-C or SIGTERM): recorded as stopped, not failed.
      if (host_of_run && !finished) host.sink().emit(runFinishedEvent(0.0, std::nullopt, 0.0, "stopped"));
      std::cerr << "behemoth: run stopped by " << signalName(result.interrupted_by) << "\n";
      return 130;
    }
    if (result.ok) return 0;
    // The root cause's own one-line error when a rank reported one (not the peers that failed
    // because it left), else what the launcher saw (a signal, an exit status, the last stderr lines).
    const RankError cause = rootCause(reported_errors, {result.failed_rank, result.error});
    if (restart >= options.max_restarts) {
      if (host_of_run) host.sink().emit(runFailedEvent(cause.message, cause.rank));
      std::cerr << "behemoth: run failed: rank " << cause.rank << ": " << cause.message;
      if (options.max_restarts > 0) std::cerr << " (after " << restart << " of " << options.max_restarts << " restarts)";
      std::cerr << "\n";
      return 1;
    }
    // Every worker is gone (the launcher stopped the survivors): start them all again from the
    // newest complete checkpoint, or from the beginning when none was written yet.
    const std::string reason = restartReason(rootCause(reported_errors, {result.failed_rank, result.headline}));
    const std::optional<RestartPoint> point = restart_points.newest();
    resume = point ? std::optional<fs::path>(point->dir) : std::nullopt;
    if (!point) continueMetricsFile(project.train.out_dir, 0);  // the steps are about to be logged again
    const std::string from =
        point ? checkpointForPeople(point->dir, project.train.out_dir) : "the beginning (no checkpoint yet)";
    std::cerr << "behemoth: " << reason << "; restarting from " << from << " (restart " << restart + 1 << " of "
              << options.max_restarts << ")\n";
    if (host_of_run) {
      host.sink().emit(runRestartedEvent(restart + 1, options.max_restarts, reason, point ? point->dir.string() : "",
                                         point ? point->step : 0));
    }
  }
}

// A validated project on --nproc ranks of this node (and --nnodes - 1 others).
int runOnThisNode(const Project& project, const RunOptions& options) {
  checkMachineMemory(project, options, options.nproc);
  const std::optional<fs::path> resume_from = checkpointToResume(project, options);
  // One rank trains in this process, unless it is to be restarted: a crash would take us along.
  if (options.nproc * options.nnodes == 1 && options.max_restarts == 0) {
    return runInThisProcess(project, options, LaunchedRank{0, 1, 0, 1, "127.0.0.1", 0}, resume_from);
  }
  return launchLocalWorkers(project, options, resume_from);
}

// --auto-plan: the search's fastest runnable plan for devices.count devices, run on as many local
// ranks. One search on one node: ranks or nodes searching apart could choose different plans.
int runAutoPlan(RunOptions options) {
  if (options.nproc_given) {
    throw std::invalid_argument("--auto-plan chooses the ranks itself (devices.count); leave out --nproc");
  }
  if (options.nnodes > 1 || startedByMpiOrSlurm()) {
    throw std::invalid_argument(
        "--auto-plan runs on one node with behemoth's own launcher; for more, run `behemoth plan --search` and set its plan");
  }
  const AutoPlanChoice choice = chooseAutoPlan(options.project_path, options.overrides);
  // Under --events stdout carries only event lines.
  (options.events ? std::cerr : std::cout) << "behemoth: " << autoPlanLine(choice) << std::endl;
  writeAutoPlanRecord(choice);
  options.nproc = choice.project.plan.worldSize();
  return runOnThisNode(choice.project, options);
}

int runProject(const RunOptions& options) {
  if (options.nproc < 1) throw std::invalid_argument("--nproc must be at least 1");
  if (options.nnodes < 1) throw std::invalid_argument("--nnodes must be at least 1");
  if (options.node_rank < 0 || options.node_rank >= options.nnodes) {
    throw std::invalid_argument("--node-rank must be in [0, --nnodes)");
  }
  if (options.nnodes > 1 && options.master.empty()) {
    throw std::invalid_argument("--nnodes > 1 needs --master HOST:PORT (the address of node 0)");
  }
  if (options.max_restarts < 0) throw std::invalid_argument("--max-restarts must be at least 0");
  if (options.max_restarts > 0 && options.nnodes > 1) {
    // Each node's launcher sees only its own workers: nodes restarting on their own could not agree
    // on when, from which checkpoint, or how many times.
    throw std::invalid_argument(
        "--max-restarts works on one node only (--nnodes 1); restart a multi-node job with --resume latest");
  }
  if (startedByMpiOrSlurm()) {
    if (options.max_restarts > 0) {
      throw std::invalid_argument(
          "--max-restarts needs behemoth's own launcher; under mpirun or srun, restart the job with --resume latest");
    }
    const LaunchedRank rank = *rankFromEnvironment();
    const Project project = readProject(options.project_path, options.overrides, rank.world_size);
    checkMachineMemory(project, options, rank.local_world_size);
    const std::optional<fs::path> resume_from = checkpointToResume(project, options);
    return runInThisProcess(project, options, rank, resume_from);
  }
  if (options.auto_plan) return runAutoPlan(options);
  const int world_size = options.nproc * options.nnodes;
  return runOnThisNode(readProject(options.project_path, options.overrides, world_size), options);
}

// `behemoth profile`: a short run with train.profile on, every step logged, no evaluation, no
// checkpoints and no history, in a scratch output folder removed afterwards.
int profileProject(RunOptions options, int steps) {
  if (steps < 1) throw std::invalid_argument("--steps must be at least 1");
  std::string scratch = (fs::temp_directory_path() / "behemoth-profile-XXXXXX").string();
  if (!mkdtemp(scratch.data())) throw std::runtime_error("behemoth profile: cannot create a folder in " + fs::temp_directory_path().string());
  struct RemoveAfter {
    fs::path path;
    ~RemoveAfter() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } remove_after{scratch};
  std::vector<std::string> overrides = {"train.profile=true", "train.log_every=1", "train.eval_every=0",
                                        "train.steps=" + std::to_string(steps), "train.checkpoint_every=0",
                                        "train.checkpoint_final=false", "train.export_hf=false", "train.out_dir=" + scratch};
  overrides.insert(overrides.end(), options.overrides.begin(), options.overrides.end());
  options.overrides = std::move(overrides);
  options.no_history = true;
  return runProject(options);
}

}  // namespace

void addProfileCommand(CLI::App& app, std::function<int()>& action) {
  auto options = std::make_shared<RunOptions>();
  auto steps = std::make_shared<int>(6);
  CLI::App* command = app.add_subcommand("profile", "Train a few steps and show where a step's time goes, by kind of work");
  command->add_option("project", options->project_path, "Project file (JSON)")->required()->check(CLI::ExistingFile);
  command->add_option("--steps", *steps, "Steps to train (the first is left out of the summary)")->capture_default_str();
  CLI::Option* nproc = command->add_option("--nproc", options->nproc, "Worker processes on this node (one per device)");
  command->add_option("--set", options->overrides, "Override a project field: key.path=value")->take_all();
  command->add_flag("--events", options->events, "Print JSON event lines on stdout (docs/events.md)");
  command->add_flag("--force", options->force, "Run even when the memory estimate exceeds this machine's available memory");
  command->add_option("--timeout", options->timeout_s, "Seconds a collective may wait before the run fails");
  command->callback([&action, options, steps, nproc] {
    options->nproc_given = nproc->count() > 0;
    action = [options, steps] { return profileProject(*options, *steps); };
  });
}

void addRunCommand(CLI::App& app, std::function<int()>& action) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* command = app.add_subcommand("run", "Train a project (see docs/project-file.md)");
  command->add_option("project", options->project_path, "Project file (JSON)")->required()->check(CLI::ExistingFile);
  CLI::Option* nproc = command->add_option("--nproc", options->nproc, "Worker processes on this node (one per device)");
  command->add_option("--nnodes", options->nnodes, "Nodes in the job");
  command->add_option("--node-rank", options->node_rank, "This node's index, 0 .. nnodes-1");
  command->add_option("--master", options->master, "HOST:PORT of node 0's rendezvous");
  command->add_option("--set", options->overrides, "Override a project field: key.path=value")->take_all();
  command->add_flag("--events", options->events, "Print JSON event lines on stdout (docs/events.md)");
  command->add_option("--history", options->history_path, "History database (default: $BEHEMOTH_HISTORY or ~/.local/share/behemoth)");
  command->add_flag("--no-history", options->no_history, "Do not record the run in the history");
  command->add_flag("--force", options->force, "Run even when the memory estimate exceeds this machine's available memory");
  command->add_option("--timeout", options->timeout_s, "Seconds a collective may wait before the run fails");
  CLI::Option* resume =
      command->add_option("--resume", options->resume_text, "Continue from a checkpoint: latest (the default) or a path")
          ->expected(0, 1)
          ->default_str("latest");
  command->add_option("--max-restarts", options->max_restarts,
                      "Restart every worker from the newest checkpoint when one fails, up to K times");
  command->add_flag("--auto-plan", options->auto_plan,
                    "Search every plan of devices.count devices and run the fastest this build can run");
  command->callback([&action, options, resume, nproc] {
    if (resume->count() > 0) options->resume = options->resume_text;
    options->nproc_given = nproc->count() > 0;
    action = [options] { return runProject(*options); };
  });
}

}  // namespace behemoth
