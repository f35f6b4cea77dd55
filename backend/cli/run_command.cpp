// `behemoth run PROJECT [--nproc N] [--set key=value ...]`: validates the project for the whole
// world before anything starts, then trains it in this process (one rank), as a worker of mpirun /
// srun, or by launching N local worker processes (and joining other nodes with --nnodes).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <iostream>
#include <memory>
#include <optional>

#include "backend/cli/commands.h"
#include "backend/cli/error_text.h"
#include "backend/cli/project_input.h"
#include "backend/cli/worker_environment.h"
#include "backend/history/history_recorder.h"
#include "backend/history/history_store.h"
#include "backend/launch/launcher.h"
#include "backend/launch/self_executable.h"
#include "backend/launch/signal_name.h"
#include "backend/metrics/events.h"
#include "backend/metrics/progress_printer.h"
#include "backend/metrics/event_sink.h"
#include "backend/metrics/json_lines_sink.h"
#include "backend/planning/memory_fit.h"
#include "backend/train/run_rank.h"

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
};

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

int runInThisProcess(const Project& project, const RunOptions& options, const LaunchedRank& rank) {
  HostSinks host(options, /*record_history=*/rank.rank == 0, project.train.steps);
  const WorldInfo info = worldInfoFor(rank, project.devices.kind, std::chrono::seconds(options.timeout_s));
  try {
    runRank(project, info, rank.rank == 0 ? &host.sink() : nullptr);
  } catch (const std::exception& error) {
    // One line for the user; the whole text (LibTorch's backtrace) in the rank's log file.
    const std::string message = reportedError(error, workerLogPath(project.train.out_dir, rank.rank));
    appendWorkerLog(project.train.out_dir, rank.rank, fullErrorText(error));
    if (rank.rank == 0) host.sink().emit(runFailedEvent(message, rank.rank));
    throw std::runtime_error("run failed: rank " + std::to_string(rank.rank) + ": " + message);
  }
  return 0;
}

int launchLocalWorkers(const Project& project, const RunOptions& options) {
  // Workers read the project exactly as validated here (overrides applied, paths resolved).
  const std::string resolved = project.train.out_dir + "/project.json";
  writeFileAtomically(resolved, projectToJson(project).dump(2) + "\n");

  WorkerSpec spec;
  spec.executable = selfExecutablePath();
  spec.args = {"worker", resolved};
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
  const LaunchResult result = launchWorkers(spec, on_stdout, on_stderr);
  if (result.interrupted_by != 0) {
    // The user stopped the run (Ctrl-C or SIGTERM): recorded as stopped, not failed.
    if (host_of_run && !finished) host.sink().emit(runFinishedEvent(0.0, std::nullopt, 0.0, "stopped"));
    std::cerr << "behemoth: run stopped by " << signalName(result.interrupted_by) << "\n";
    return 130;
  }
  if (!result.ok) {
    // The root cause's own one-line error when a rank reported one (not the peers that failed
    // because it left), else what the launcher saw (a signal, an exit status, the last stderr lines).
    const RankError cause = rootCause(reported_errors, {result.failed_rank, result.error});
    if (host_of_run) host.sink().emit(runFailedEvent(cause.message, cause.rank));
    std::cerr << "behemoth: run failed: rank " << cause.rank << ": " << cause.message << "\n";
    return 1;
  }
  return 0;
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
  if (startedByMpiOrSlurm()) {
    const LaunchedRank rank = *rankFromEnvironment();
    const Project project = readProject(options.project_path, options.overrides, rank.world_size);
    checkMachineMemory(project, options, rank.local_world_size);
    return runInThisProcess(project, options, rank);
  }
  const int world_size = options.nproc * options.nnodes;
  const Project project = readProject(options.project_path, options.overrides, world_size);
  checkMachineMemory(project, options, options.nproc);
  if (world_size == 1) return runInThisProcess(project, options, LaunchedRank{0, 1, 0, 1, "127.0.0.1", 0});
  return launchLocalWorkers(project, options);
}

}  // namespace

void addRunCommand(CLI::App& app, std::function<int()>& action) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* command = app.add_subcommand("run", "Train a project (see docs/project-file.md)");
  command->add_option("project", options->project_path, "Project file (JSON)")->required()->check(CLI::ExistingFile);
  command->add_option("--nproc", options->nproc, "Worker processes on this node (one per device)");
  command->add_option("--nnodes", options->nnodes, "Nodes in the job");
  command->add_option("--node-rank", options->node_rank, "This node's index, 0 .. nnodes-1");
  command->add_option("--master", options->master, "HOST:PORT of node 0's rendezvous");
  command->add_option("--set", options->overrides, "Override a project field: key.path=value")->take_all();
  command->add_flag("--events", options->events, "Print JSON event lines on stdout (docs/events.md)");
  command->add_option("--history", options->history_path, "History database (default: $BEHEMOTH_HISTORY or ~/.local/share/behemoth)");
  command->add_flag("--no-history", options->no_history, "Do not record the run in the history");
  command->add_flag("--force", options->force, "Run even when the memory estimate exceeds this machine's available memory");
  command->add_option("--timeout", options->timeout_s, "Seconds a collective may wait before the run fails");
  command->callback([&action, options] { action = [options] { return runProject(*options); }; });
}

}  // namespace behemoth
