#include "backend/launch/worker_process.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <string_view>

extern char** environ;

namespace behemoth {
namespace {

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

// Close-on-exec so that a pipe meant for one worker never leaks into a sibling (or into a process
// another thread forks meanwhile).
Pipe makePipe(const char* purpose) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("launcher: cannot create the ") + purpose + " pipe: " + std::strerror(errno));
  }
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::string_view variableName(std::string_view assignment) {
  return assignment.substr(0, assignment.find('='));
}

std::vector<std::string> mergedEnvironment(const std::vector<std::string>& overrides) {
  std::vector<std::string> merged;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view inherited(*entry);
    bool overridden = false;
    for (const std::string& override_entry : overrides) {
      overridden = overridden || variableName(override_entry) == variableName(inherited);
    }
    if (!overridden) {
      merged.emplace_back(inherited);
    }
  }
  merged.insert(merged.end(), overrides.begin(), overrides.end());
  return merged;
}

std::vector<char*> nullTerminated(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (std::string& text : strings) {
    pointers.push_back(text.data());
  }
  pointers.push_back(nullptr);
  return pointers;
}

// Runs in the forked child, before exec. Only async-signal-safe calls: the parent may have had
// other threads (holding malloc or other locks) when it forked.
[[noreturn]] void becomeWorker(pid_t launcher_pid, int stdout_fd, int stderr_fd, int exec_status_fd,
                               char* const* argv, char* const* envp) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != launcher_pid) {
    ::_exit(127);  // the launcher died before PDEATHSIG was armed
  }
  sigset_t nothing_blocked;
  sigemptyset(&nothing_blocked);
  ::sigprocmask(SIG_SETMASK, &nothing_blocked, nullptr);
  // The launcher may ignore these (servers often ignore SIGPIPE); a worker should not inherit that.
  ::signal(SIGPIPE, SIG_DFL);
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);

  // Workers never read the terminal (a background process group reading it would be stopped).
  const int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd > STDIN_FILENO) {
    ::dup2(null_fd, STDIN_FILENO);
    ::close(null_fd);
  }
  ::dup2(stdout_fd, STDOUT_FILENO);
  ::dup2(stderr_fd, STDERR_FILENO);
  ::execve(argv[0], argv, envp);

  const int exec_errno = errno;
  [[maybe_unused]] const ssize_t written = ::write(exec_status_fd, &exec_errno, sizeof(exec_errno));
  ::_exit(127);
}

}  // namespace

StartedProcess startProcess(const std::string& executable, const std::vector<std::string>& args,
                            const std::vector<std::string>& environment_overrides) {
  // Everything the child needs is built before fork(): it must not allocate.
  std::vector<std::string> argv_strings{executable};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<std::string> env_strings = mergedEnvironment(environment_overrides);
  const std::vector<char*> argv = nullTerminated(argv_strings);
  const std::vector<char*> envp = nullTerminated(env_strings);

  Pipe out = makePipe("stdout");
  Pipe err = makePipe("stderr");
  Pipe exec_status = makePipe("exec status");
  const pid_t launcher_pid = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("launcher: fork() failed for '" + executable + "': " + std::strerror(errno));
  }
  if (pid == 0) {
    becomeWorker(launcher_pid, out.write_end.get(), err.write_end.get(), exec_status.write_end.get(),
                 argv.data(), envp.data());
  }

  out.write_end.reset();
  err.write_end.reset();
  exec_status.write_end.reset();
  // The status pipe closes on a successful exec (close-on-exec) or carries errno when it failed.
  int exec_errno = 0;
  ssize_t got = 0;
  do {
    got = ::read(exec_status.read_end.get(), &exec_errno, sizeof(exec_errno));
  } while (got < 0 && errno == EINTR);
  if (got > 0) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    throw std::runtime_error("cannot execute '" + executable + "': " + std::strerror(exec_errno));
  }

  StartedProcess started;
  started.pid = pid;
  started.stdout_fd = std::move(out.read_end);
  started.stderr_fd = std::move(err.read_end);
  return started;
}

}  // namespace behemoth
