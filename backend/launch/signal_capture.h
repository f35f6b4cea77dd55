// Catches SIGINT/SIGTERM while workers run, so that Ctrl-C (or a scheduler's SIGTERM) stops the
// workers cleanly instead of killing the launcher and leaving them behind.
#pragma once

#include <csignal>

#include "backend/launch/unique_fd.h"

namespace behemoth {

// While alive, SIGINT and SIGTERM write their number to a pipe (the self-pipe trick: the only
// async-signal-safe way to wake a poll() loop) instead of running their previous disposition.
// The destructor restores the previous handlers. One capture per process at a time: a second
// one throws std::logic_error.
class SignalCapture {
 public:
  SignalCapture();
  SignalCapture(const SignalCapture&) = delete;
  SignalCapture& operator=(const SignalCapture&) = delete;
  ~SignalCapture();

  // Readable when a signal arrived; poll() it with POLLIN.
  int fd() const { return read_end_.get(); }
  // The oldest signal not taken yet, or 0 when none is pending.
  int takeSignal();

 private:
  UniqueFd read_end_;
  UniqueFd write_end_;
  struct sigaction previous_int_{};
  struct sigaction previous_term_{};
};

}  // namespace behemoth
