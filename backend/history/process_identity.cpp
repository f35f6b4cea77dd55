#include "backend/history/process_identity.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

namespace behemoth {
namespace {

std::string firstLineOf(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

std::optional<ProcStat> parseProcStat(const std::string& line) {
  // "PID (COMM) STATE PPID ...": COMM may contain ") ", so the fields start after the last ')'.
  const std::size_t close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 1));
  ProcStat stat;
  if (!(fields >> stat.state)) return std::nullopt;
  // The state is field 3 and the start time field 22: 18 fields lie between them.
  std::string skipped;
  for (int field = 4; field < 22; ++field) {
    if (!(fields >> skipped)) return std::nullopt;
  }
  if (!(fields >> stat.start_ticks)) return std::nullopt;
  return stat;
}

std::optional<ProcStat> readProcStat(std::int64_t pid) {
  if (pid <= 0) return std::nullopt;
  const std::string line = firstLineOf("/proc/" + std::to_string(pid) + "/stat");
  if (line.empty()) return std::nullopt;
  return parseProcStat(line);
}

std::string currentHostName() {
  char name[256] = {};  // POSIX host names are at most 255 bytes
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

ProcessIdentity currentProcessIdentity() {
  ProcessIdentity identity;
  identity.host = currentHostName();
  identity.pid = ::getpid();
  if (const auto stat = readProcStat(identity.pid)) identity.start_ticks = stat->start_ticks;
  identity.boot_id = firstLineOf("/proc/sys/kernel/random/boot_id");
  return identity;
}

ProcessState processState(const ProcessIdentity& identity) {
  if (identity.host != currentHostName()) return ProcessState::elsewhere;
  if (identity.pid <= 0) return ProcessState::gone;  // no process has such a PID (and kill(0) means "my group")
  if (!identity.boot_id.empty()) {
    const std::string boot = firstLineOf("/proc/sys/kernel/random/boot_id");
    if (!boot.empty() && boot != identity.boot_id) return ProcessState::gone;  // the machine rebooted since
  }
  if (const auto stat = readProcStat(identity.pid)) {
    // A zombie has exited; only its parent has not collected the status yet.
    if (stat->state == 'Z' || stat->state == 'X') return ProcessState::gone;
    if (identity.start_ticks && *identity.start_ticks != stat->start_ticks) return ProcessState::gone;  // PID reused
    return ProcessState::alive;
  }
  // No /proc entry: no such process, or /proc hides it (hidepid, not Linux). Signal 0 tells
  // which; EPERM means it exists but belongs to another user.
  if (::kill(static_cast<pid_t>(identity.pid), 0) == 0 || errno == EPERM) return ProcessState::alive;
  return ProcessState::gone;
}

}  // namespace behemoth
