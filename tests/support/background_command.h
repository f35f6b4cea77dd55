// A command running in the background in its own process group, for tests that kill it mid-run
// (a launcher killed with SIGKILL), and the polls such tests wait with.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace behemoth {

class BackgroundCommand {
 public:
  // Starts `executable args...` with stdout and stderr going to `output_path`.
  BackgroundCommand(const std::string& executable, const std::vector<std::string>& args, const std::string& output_path);
  // SIGKILLs what is left: its group and every child seen by children().
  ~BackgroundCommand();
  BackgroundCommand(const BackgroundCommand&) = delete;
  BackgroundCommand& operator=(const BackgroundCommand&) = delete;

  pid_t pid() const { return pid_; }
  // The processes whose parent is this command (a launcher's workers), from /proc.
  std::vector<pid_t> children();
  // SIGKILL to the command's process group, as `kill -9 -PGID` would; returns once it is reaped.
  void killGroup();
  // False once the command exited (it is reaped then).
  bool running();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  struct Child {
    pid_t pid;
    std::int64_t start_ticks;  // to never signal a process that later reused the PID
  };
  std::vector<Child> children_;
};

// No such process any more, or a zombie (exited; its parent has not collected it yet).
bool processGone(pid_t pid);

// Calls `condition` every 50 ms until it holds or `cap` passes. The cap only guards against a
// hang (the machine is shared and slow); it is not a timing assertion.
bool pollUntil(const std::function<bool()>& condition, std::chrono::seconds cap);

// The highest logged step in the history database at `path`: nullopt while there is none (or no
// database yet). Reads without taking the write lock the run being recorded needs.
std::optional<std::int64_t> lastRecordedStep(const std::string& path);

}  // namespace behemoth
