#include "backend/launch/launcher.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/launch/environment_names.h"
#include "backend/launch/free_port.h"
#include "backend/launch/signal_capture.h"
#include "backend/launch/signal_name.h"
#include "backend/launch/worker_group.h"
#include "backend/launch/worker_process.h"

namespace behemoth {
namespace {

using Clock = std::chrono::steady_clock;

// Child exits are noticed by polling waitid() this often; a SIGCHLD handler would fight with
// whatever else in the process waits for children.
constexpr std::chrono::milliseconds kReapInterval{20};
// After every worker is reaped, how long output may still trickle in from the pipes before they
// are closed (only a process that escaped its group could keep them open longer).
constexpr std::chrono::seconds kDrainAfterExit{2};

void validate(const WorkerSpec& spec) {
  if (spec.executable.empty()) {
    throw std::invalid_argument("launch: executable is empty");
  }
  if (spec.nproc < 1) {
    throw std::invalid_argument("launch: nproc must be at least 1, got " + std::to_string(spec.nproc));
  }
  if (spec.nnodes < 1) {
    throw std::invalid_argument("launch: nnodes must be at least 1, got " + std::to_string(spec.nnodes));
  }
  if (spec.node_rank < 0 || spec.node_rank >= spec.nnodes) {
    throw std::invalid_argument("launch: node_rank must be in [0, " + std::to_string(spec.nnodes) + "), got " +
                                std::to_string(spec.node_rank));
  }
  if (spec.master_port < 0 || spec.master_port > 65535) {
    throw std::invalid_argument("launch: master_port must be in [0, 65535], got " + std::to_string(spec.master_port));
  }
  if (spec.master_port == 0 && spec.nnodes > 1) {
    throw std::invalid_argument(
        "launch: master_port 0 (pick a free port) works on a single node only; with nnodes > 1 every node "
        "must be given the same --master HOST:PORT");
  }
  if (spec.master_addr.empty()) {
    throw std::invalid_argument("launch: master_addr is empty");
  }
  if (spec.shutdown_grace.count() < 0 || spec.stop_grace.count() < 0 || spec.timeout.count() < 0) {
    throw std::invalid_argument("launch: shutdown_grace, stop_grace and timeout must not be negative");
  }
}

std::vector<std::string> workerEnvironment(const WorkerSpec& spec, int local_rank, int master_port) {
  std::vector<std::string> environment = {
      std::string(launch_env::kRank) + "=" + std::to_string(spec.node_rank * spec.nproc + local_rank),
      std::string(launch_env::kWorldSize) + "=" + std::to_string(spec.nnodes * spec.nproc),
      std::string(launch_env::kLocalRank) + "=" + std::to_string(local_rank),
      std::string(launch_env::kLocalWorldSize) + "=" + std::to_string(spec.nproc),
      std::string(launch_env::kMasterAddr) + "=" + spec.master_addr,
      std::string(launch_env::kMasterPort) + "=" + std::to_string(master_port),
  };
  environment.insert(environment.end(), spec.extra_environment.begin(), spec.extra_environment.end());
  return environment;
}

std::chrono::milliseconds untilOrZero(Clock::time_point deadline, Clock::time_point now) {
  return deadline > now ? std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now)
                        : std::chrono::milliseconds(0);
}

}  // namespace

LaunchResult launchWorkers(const WorkerSpec& spec, const WorkerLineHandler& on_stdout_line,
                           const WorkerLineHandler& on_stderr_line) {
  validate(spec);
  const int master_port = spec.master_port != 0 ? spec.master_port : pickFreePort();
  std::optional<SignalCapture> signals;
  if (spec.forward_signals) {
    signals.emplace();
  }
  WorkerGroup group(on_stdout_line, on_stderr_line);
  LaunchResult result;

  // Stopping: the first stop signal goes to every worker group, SIGKILL follows after the grace.
  std::optional<Clock::time_point> kill_deadline;
  bool killed = false;
  const auto beginStop = [&](int signal_number, std::chrono::seconds grace) {
    if (!kill_deadline) {
      group.signalAll(signal_number);
      kill_deadline = Clock::now() + grace;
    }
  };

  for (int local_rank = 0; local_rank < spec.nproc; ++local_rank) {
    const int rank = spec.node_rank * spec.nproc + local_rank;
    try {
      group.add(rank, startProcess(spec.executable, spec.args, workerEnvironment(spec, local_rank, master_port)));
    } catch (const std::runtime_error& error) {
      group.recordStartFailure(rank, error.what());
      beginStop(SIGTERM, spec.shutdown_grace);
      break;
    }
  }

  const Clock::time_point overall_deadline =
      spec.timeout.count() > 0 ? Clock::now() + spec.timeout : Clock::time_point::max();
  std::optional<Clock::time_point> drain_deadline;
  while (!group.allReaped() || group.anyPipeOpen()) {
    const Clock::time_point now = Clock::now();
    std::chrono::milliseconds wait = kReapInterval;
    if (drain_deadline) wait = std::min(wait, untilOrZero(*drain_deadline, now));
    if (kill_deadline && !killed) wait = std::min(wait, untilOrZero(*kill_deadline, now));

    const bool signalled = group.pumpOutput(wait, signals ? signals->fd() : -1);
    if (signalled) {
      while (const int signal_number = signals->takeSignal()) {
        if (kill_deadline) {
          group.signalAll(SIGKILL);  // asked twice: stop waiting for a clean exit
          killed = true;
        } else {
          // The user stopped the run: time for every worker's final checkpoint.
          result.interrupted_by = signal_number;
          beginStop(signal_number, spec.stop_grace);
        }
      }
    }
    group.reapExited(/*failures_expected=*/kill_deadline.has_value() && !group.failure());
    if (group.failure()) {
      beginStop(SIGTERM, spec.shutdown_grace);
    }
    if (!kill_deadline && Clock::now() >= overall_deadline) {
      result.timed_out = true;
      beginStop(SIGTERM, spec.shutdown_grace);
    }
    if (kill_deadline && !killed && Clock::now() >= *kill_deadline) {
      group.signalAll(SIGKILL);
      killed = true;
    }
    if (group.allReaped() && !drain_deadline) {
      drain_deadline = Clock::now() + kDrainAfterExit;
    }
    if (drain_deadline && Clock::now() >= *drain_deadline) {
      group.closeAllPipes();
    }
  }

  if (const std::optional<WorkerFailure>& failure = group.failure()) {
    result.failed_rank = failure->rank;
    result.exit_code = failure->exit_code;
    result.signal = failure->signal;
    result.error = group.describeFailure();
    result.headline = failure->headline;
  } else if (result.interrupted_by != 0) {
    result.error = "launcher received " + signalName(result.interrupted_by) + "; stopped all workers";
  } else if (result.timed_out) {
    result.error = "launch timed out after " + std::to_string(spec.timeout.count()) + " s; stopped all workers";
  }
  result.ok = !group.failure() && result.interrupted_by == 0 && !result.timed_out;
  return result;
}

}  // namespace behemoth
