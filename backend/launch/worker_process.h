// Starting one worker process: its own process group, its output on pipes, and death when the
// launcher dies.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "backend/launch/unique_fd.h"

namespace behemoth {

struct StartedProcess {
  pid_t pid = -1;  // also its process group id
  UniqueFd stdout_fd;  // read ends of its stdout and stderr pipes
  UniqueFd stderr_fd;
};

// Starts `executable` (a path; no PATH search) with `args` after argv[0], the inherited
// environment plus `environment_overrides` ("NAME=value", replacing inherited values), stdin from
// /dev/null, stdout and stderr on pipes. The child leads its own process group, so the launcher can
// signal it and everything it started at once, and a terminal's Ctrl-C reaches only the launcher,
// which forwards it. It gets SIGKILL if the thread that started it dies (PR_SET_PDEATHSIG).
// Returns once the child has exec'd; throws std::runtime_error naming the executable when it could
// not be executed (the child is reaped).
StartedProcess startProcess(const std::string& executable, const std::vector<std::string>& args,
                            const std::vector<std::string>& environment_overrides);

}  // namespace behemoth
