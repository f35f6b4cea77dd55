// How an error reaches the user: one line. LibTorch's errors carry a C++ backtrace and sometimes
// several lines of context; the user sees the first line of the message, and the whole text goes
// to a log file in the run's out_dir for whoever needs it.
#pragma once

#include <exception>
#include <string>
#include <vector>

namespace behemoth {

// The first line of the error's message, without LibTorch's backtrace.
std::string oneLineError(const std::exception& error);

// Everything the error says (LibTorch's backtrace included).
std::string fullErrorText(const std::exception& error);

// OUT_DIR/worker-RANK.log: where a rank's full error text goes.
std::string workerLogPath(const std::string& out_dir, int rank);

// Appends `text` under a timestamped header to the rank's log (creating out_dir). False when the
// file cannot be written: the one-line error still reaches the user.
bool appendWorkerLog(const std::string& out_dir, int rank, const std::string& text);

// A rank's one-line error: the message, and where the details are.
std::string reportedError(const std::exception& error, const std::string& log_path);

// The errors ranks reported, in the order the launcher received them.
struct RankError {
  int rank = 0;
  std::string message;
};

// Which failure to show when several ranks failed: the first reported error that is not a
// consequence of another rank's exit (a collective whose peer closed its connection or went
// missing, as parallel/group.cpp words it), else `fallback`, the launcher's own view (the rank
// that exited first: killed by a signal, or an exit status and its last stderr lines).
RankError rootCause(const std::vector<RankError>& reported, const RankError& fallback);

}  // namespace behemoth
