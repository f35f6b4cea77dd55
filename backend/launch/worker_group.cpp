#include "backend/launch/worker_group.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <string_view>
#include <utility>
#include <vector>

#include "backend/launch/signal_name.h"

namespace behemoth {
namespace {

int waitFor(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace

WorkerGroup::WorkerGroup(const WorkerLineHandler& on_stdout, const WorkerLineHandler& on_stderr)
    : handlers_{&on_stdout, &on_stderr} {}

WorkerGroup::~WorkerGroup() {
  for (Worker& worker : workers_) {
    if (!worker.reaped) {
      ::killpg(worker.pid, SIGKILL);
      waitFor(worker.pid);
    }
  }
}

void WorkerGroup::add(int rank, StartedProcess started) {
  Worker& worker = workers_.emplace_back();
  worker.rank = rank;
  worker.pid = started.pid;
  worker.pipes[0] = std::move(started.stdout_fd);
  worker.pipes[1] = std::move(started.stderr_fd);
}

void WorkerGroup::signalAll(int signal_number) {
  for (const Worker& worker : workers_) {
    if (!worker.reaped) {
      ::killpg(worker.pid, signal_number);
    }
  }
}

bool WorkerGroup::allReaped() const {
  for (const Worker& worker : workers_) {
    if (!worker.reaped) return false;
  }
  return true;
}

bool WorkerGroup::anyPipeOpen() const {
  for (const Worker& worker : workers_) {
    if (worker.pipes[0].valid() || worker.pipes[1].valid()) return true;
  }
  return false;
}

bool WorkerGroup::pumpOutput(std::chrono::milliseconds timeout, int extra_fd) {
  std::vector<pollfd> fds;
  std::vector<std::pair<Worker*, int>> owners;
  for (Worker& worker : workers_) {
    for (int stream = 0; stream < 2; ++stream) {
      if (worker.pipes[stream].valid()) {
        fds.push_back(pollfd{worker.pipes[stream].get(), POLLIN, 0});
        owners.emplace_back(&worker, stream);
      }
    }
  }
  if (extra_fd >= 0) {
    fds.push_back(pollfd{extra_fd, POLLIN, 0});
  }
  const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
  if (ready <= 0) {
    return false;  // timeout, or EINTR from a signal whose byte now waits in the signal pipe
  }
  for (std::size_t i = 0; i < owners.size(); ++i) {
    if (fds[i].revents != 0) {
      readFrom(*owners[i].first, owners[i].second);
    }
  }
  return extra_fd >= 0 && fds.back().revents != 0;
}

void WorkerGroup::reapExited(bool failures_expected) {
  for (Worker& worker : workers_) {
    if (worker.reaped) continue;
    // Look without reaping first: while the worker is a zombie its pid still names its process
    // group, so what it left running can be killed without hitting a recycled pid.
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(worker.pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
      if (errno == ECHILD) {
        // Other code in this process reaped it (waitpid(-1)); its status is lost, and its pid may
        // already name another process, so it is not signalled again.
        worker.reaped = true;
        if (!failure_ && !failures_expected) {
          failure_ = WorkerFailure{worker.rank, 0, 0,
                                   "rank " + std::to_string(worker.rank) +
                                       " was reaped by other code in the launcher; its exit status is unknown"};
        }
      }
      continue;
    }
    if (info.si_pid == 0) {
      continue;  // still running
    }
    ::killpg(worker.pid, SIGKILL);
    const int status = waitFor(worker.pid);
    worker.reaped = true;
    const bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (failed && !failure_ && !failures_expected) {
      recordExit(worker, status);
    }
  }
}

void WorkerGroup::closeAllPipes() {
  for (Worker& worker : workers_) {
    for (int stream = 0; stream < 2; ++stream) {
      if (worker.pipes[stream].valid()) {
        finishStream(worker, stream);
      }
    }
  }
}

void WorkerGroup::recordStartFailure(int rank, const std::string& reason) {
  if (!failure_) {
    failure_ = WorkerFailure{rank, 127, 0, "rank " + std::to_string(rank) + " could not be started: " + reason};
  }
}

std::string WorkerGroup::describeFailure() const {
  if (!failure_) {
    return "";
  }
  std::string text = failure_->headline;
  for (const Worker& worker : workers_) {
    if (worker.rank != failure_->rank || worker.stderr_tail.empty()) continue;
    text += "; its last " + std::to_string(worker.stderr_tail.size()) + " stderr line(s):";
    for (const std::string& line : worker.stderr_tail) {
      text += "\n" + line;
    }
  }
  return text;
}

void WorkerGroup::recordExit(const Worker& worker, int wait_status) {
  WorkerFailure failure;
  failure.rank = worker.rank;
  const std::string who = "rank " + std::to_string(worker.rank);
  if (WIFSIGNALED(wait_status)) {
    failure.signal = WTERMSIG(wait_status);
    failure.headline = who + " was killed by signal " + std::to_string(failure.signal) + " (" +
                       signalName(failure.signal) + ")";
  } else {
    failure.exit_code = WEXITSTATUS(wait_status);
    failure.headline = who + " exited with code " + std::to_string(failure.exit_code);
  }
  failure_ = failure;
}

void WorkerGroup::readFrom(Worker& worker, int stream) {
  std::array<char, 65536> buffer;
  const ssize_t got = ::read(worker.pipes[stream].get(), buffer.data(), buffer.size());
  if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
    return;
  }
  if (got <= 0) {
    finishStream(worker, stream);
    return;
  }
  worker.splitters[stream].feed(std::string_view(buffer.data(), static_cast<std::size_t>(got)),
                                lineHandler(worker, stream));
}

void WorkerGroup::finishStream(Worker& worker, int stream) {
  worker.pipes[stream].reset();
  worker.splitters[stream].finish(lineHandler(worker, stream));
}

LineSplitter::LineHandler WorkerGroup::lineHandler(Worker& worker, int stream) {
  return [this, &worker, stream](const std::string& line) {
    if (stream == 1) {
      worker.stderr_tail.push_back(line);
      if (worker.stderr_tail.size() > kStderrTailLines) {
        worker.stderr_tail.pop_front();
      }
    }
    (*handlers_[stream])(worker.rank, line);
  };
}

}  // namespace behemoth
