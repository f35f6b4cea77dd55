// What launchWorkers() is asked to start, and what it reports back.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace behemoth {

// Receives one line of a worker's output, without its newline, with the worker's global rank.
using WorkerLineHandler = std::function<void(int rank, const std::string& line)>;

struct WorkerSpec {
  std::string executable;         // absolute path; usually selfExecutablePath()
  std::vector<std::string> args;  // arguments after argv[0], e.g. {"worker", "project.json"}
  int nproc = 1;                  // workers on this node
  int nnodes = 1;                 // global rank = node_rank * nproc + local_rank
  int node_rank = 0;              // world size = nnodes * nproc
  std::string master_addr = "127.0.0.1";
  int master_port = 0;            // 0: pick a free port (single node only)
  // Stopping: SIGTERM first, SIGKILL for whatever is still alive after a grace. After a worker
  // failed, its peers get `shutdown_grace` (they may be stuck in a collective with it); when the
  // user stops the run (SIGINT/SIGTERM to the launcher) every worker gets `stop_grace` to write
  // its final checkpoint. A second signal kills at once either way.
  std::chrono::seconds shutdown_grace{5};
  std::chrono::seconds stop_grace{120};
  // Added to every worker's environment ("NAME=value"), after the rank variables.
  std::vector<std::string> extra_environment;
  // Hard limit on the whole launch; 0 means none. When it expires every worker is stopped and
  // the result says timed_out (tests and CI use it so that a hung collective cannot hang them).
  std::chrono::seconds timeout{0};
  // Forward SIGINT/SIGTERM received by this process to the workers while they run.
  bool forward_signals = true;
};

struct LaunchResult {
  bool ok = false;
  int failed_rank = -1;  // global rank of the first worker seen to fail; -1 if none did
  int exit_code = 0;     // its exit status when it exited, or 127 when it could not be executed
  int signal = 0;        // the signal that killed it, when one did
  int interrupted_by = 0;  // SIGINT/SIGTERM received by the launcher, which stopped the workers
  bool timed_out = false;  // WorkerSpec::timeout expired
  // What went wrong, for a person: "rank 1 exited with code 3" or "rank 1 was killed by signal 9
  // (SIGKILL)", followed by that worker's last stderr lines.
  std::string error;
  std::string headline;  // the first worker failure alone, on one line ("rank 1 exited with code 3")
};

}  // namespace behemoth
