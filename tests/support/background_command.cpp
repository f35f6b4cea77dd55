#include "tests/support/background_command.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "backend/history/process_identity.h"
#include "backend/history/sqlite.h"

namespace behemoth {
namespace {

// Field 4 of /proc/PID/stat (after the command name, which may hold spaces).
std::optional<pid_t> parentOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  const std::size_t close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 1));
  std::string state;
  long parent = 0;
  if (!(fields >> state >> parent)) return std::nullopt;
  return static_cast<pid_t>(parent);
}

}  // namespace

BackgroundCommand::BackgroundCommand(const std::string& executable, const std::vector<std::string>& args,
                                     const std::string& output_path) {
  std::vector<std::string> owned{executable};
  owned.insert(owned.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : owned) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const int output = ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (output < 0) throw std::runtime_error("cannot create " + output_path);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::setpgid(0, 0);  // its own group, as a shell job is
    ::dup2(output, STDOUT_FILENO);
    ::dup2(output, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);  // also from here, so the group exists before the child gets to it
  ::close(output);
}

BackgroundCommand::~BackgroundCommand() {
  children();  // whoever is still there
  if (!reaped_) killGroup();
  for (const Child& child : children_) {
    const std::optional<ProcStat> now = readProcStat(child.pid);
    if (!now || now->start_ticks != child.start_ticks || now->state == 'Z') continue;
    ::kill(child.pid, SIGKILL);  // a worker that outlived its launcher
  }
}

std::vector<pid_t> BackgroundCommand::children() {
  std::vector<pid_t> found;
  if (DIR* proc = ::opendir("/proc")) {
    while (const dirent* entry = ::readdir(proc)) {
      const pid_t pid = static_cast<pid_t>(std::atol(entry->d_name));
      if (pid > 0 && parentOf(pid) == pid_) found.push_back(pid);
    }
    ::closedir(proc);
  }
  for (pid_t pid : found) {
    const bool known = std::any_of(children_.begin(), children_.end(), [pid](const Child& c) { return c.pid == pid; });
    const std::optional<ProcStat> stat = readProcStat(pid);
    if (!known && stat) children_.push_back({pid, stat->start_ticks});
  }
  return found;
}

void BackgroundCommand::killGroup() {
  if (reaped_) return;
  ::kill(-pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
}

bool BackgroundCommand::running() {
  if (reaped_) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) reaped_ = true;
  return !reaped_;
}

bool processGone(pid_t pid) {
  const std::optional<ProcStat> stat = readProcStat(pid);
  return !stat || stat->state == 'Z' || stat->state == 'X';
}

bool pollUntil(const std::function<bool()>& condition, std::chrono::seconds cap) {
  const auto deadline = std::chrono::steady_clock::now() + cap;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

std::optional<std::int64_t> lastRecordedStep(const std::string& path) {
  if (!std::filesystem::exists(path)) return std::nullopt;  // opening would create it
  try {
    sqlite::Database db(path, 2000);
    sqlite::Statement query(db, "SELECT max(step) FROM run_metrics WHERE json IS NOT NULL");
    if (!query.step()) return std::nullopt;
    return query.getOptionalInt(0);
  } catch (const std::runtime_error&) {
    return std::nullopt;  // not created yet (no tables), or busy this moment
  }
}

}  // namespace behemoth
