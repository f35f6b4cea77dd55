// The running workers of one launch: their output, their exits and stopping them. launchWorkers()
// drives it; it owns the processes, so none outlives it.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <deque>
#include <optional>
#include <string>

#include "backend/launch/line_splitter.h"
#include "backend/launch/unique_fd.h"
#include "backend/launch/worker_process.h"
#include "backend/launch/worker_spec.h"

namespace behemoth {

// The first worker failure of a launch.
struct WorkerFailure {
  int rank = -1;
  int exit_code = 0;
  int signal = 0;
  std::string headline;  // "rank 1 exited with code 3"
};

class WorkerGroup {
 public:
  static constexpr std::size_t kStderrTailLines = 20;

  WorkerGroup(const WorkerLineHandler& on_stdout, const WorkerLineHandler& on_stderr);
  WorkerGroup(const WorkerGroup&) = delete;
  WorkerGroup& operator=(const WorkerGroup&) = delete;
  // Kills (SIGKILL) and reaps every worker still running: reached early only when a handler threw.
  ~WorkerGroup();

  void add(int rank, StartedProcess started);
  // Signals the whole process group of every worker not reaped yet.
  void signalAll(int signal_number);

  bool allReaped() const;
  bool anyPipeOpen() const;

  // Waits up to `timeout` for output (or for `extra_fd`, if >= 0), then hands every completed line
  // to the handlers. Returns whether extra_fd became readable.
  bool pumpOutput(std::chrono::milliseconds timeout, int extra_fd);
  // Reaps the workers that have exited, after killing what they left running in their process
  // group. Records the first failure unless `failures_expected` (the launcher is stopping them).
  void reapExited(bool failures_expected);
  // Gives up on output still pending, emitting each stream's unterminated last line.
  void closeAllPipes();

  void recordStartFailure(int rank, const std::string& reason);
  const std::optional<WorkerFailure>& failure() const { return failure_; }
  // The failure's headline followed by the failing worker's last stderr lines.
  std::string describeFailure() const;

 private:
  struct Worker {
    int rank = 0;
    pid_t pid = -1;
    bool reaped = false;
    std::array<UniqueFd, 2> pipes;  // stdout, stderr
    std::array<LineSplitter, 2> splitters;
    std::deque<std::string> stderr_tail;
  };

  void recordExit(const Worker& worker, int wait_status);
  void readFrom(Worker& worker, int stream);
  void finishStream(Worker& worker, int stream);
  LineSplitter::LineHandler lineHandler(Worker& worker, int stream);

  std::array<const WorkerLineHandler*, 2> handlers_;
  std::deque<Worker> workers_;  // a deque: line handlers hold references while workers are added
  std::optional<WorkerFailure> failure_;
};

}  // namespace behemoth
