// Which process launched a run, precisely enough to tell later whether it still exists: the host,
// the PID and, against PID reuse, the process's start time and the boot it started in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace behemoth {

struct ProcessIdentity {
  std::string host;                         // gethostname()
  std::int64_t pid = 0;
  std::optional<std::int64_t> start_ticks;  // field 22 of /proc/PID/stat: clock ticks after boot
  std::string boot_id;                      // /proc/sys/kernel/random/boot_id; empty where unknown
};

// This process, as a run it launches records it.
ProcessIdentity currentProcessIdentity();
std::string currentHostName();

enum class ProcessState {
  alive,      // on this host, and the same process (PID and start time) still runs
  gone,       // on this host, and it exited, is a zombie, or its PID now names another process
  elsewhere,  // recorded on another host: this host cannot tell
};

ProcessState processState(const ProcessIdentity& identity);

// What /proc/PID/stat says about a process: its state letter (R, S, Z, ...) and start time.
struct ProcStat {
  char state = '?';
  std::int64_t start_ticks = 0;
};
// nullopt when there is no such process (or no /proc). Parses around the command name, which may
// hold spaces and parentheses.
std::optional<ProcStat> readProcStat(std::int64_t pid);
std::optional<ProcStat> parseProcStat(const std::string& line);

}  // namespace behemoth
