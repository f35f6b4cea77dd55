// How an error reaches the user: one line. LibTorch's errors carry a C++ backtrace and sometimes
// several lines of context; the user sees the first line of the message, and the whole text goes
// to a log file in the run's out_dir for whoever needs it.
#pragma once

#include <exception>
#include <string>

namespace behemoth {

// The first line of the error's message, without LibTorch's backtrace.
std::string oneLineError(const std::exception& error);

// Everything the error says (LibTorch's backtrace included).
std::string fullErrorText(const std::exception& error);

// Appends `text` under a timestamped header to OUT_DIR/worker-RANK.log and returns that path;
// returns "" when the file cannot be written (the one-line error still reaches the user).
std::string appendWorkerLog(const std::string& out_dir, int rank, const std::string& text);

}  // namespace behemoth
