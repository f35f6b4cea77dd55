#include "backend/launch/signal_capture.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace behemoth {
namespace {

// The handler can only reach the pipe through a global; -1 when no capture is installed.
std::atomic<int> g_signal_write_fd{-1};

extern "C" void writeSignalToPipe(int signal_number) {
  const int saved_errno = errno;  // the interrupted code may be looking at errno
  const int fd = g_signal_write_fd.load();
  if (fd >= 0) {
    const unsigned char byte = static_cast<unsigned char>(signal_number);
    // Non-blocking: if the pipe is somehow full, the launcher already has signals to act on.
    [[maybe_unused]] const ssize_t written = ::write(fd, &byte, 1);
  }
  errno = saved_errno;
}

}  // namespace

SignalCapture::SignalCapture() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw std::runtime_error(std::string("launcher: cannot create the signal pipe: ") + std::strerror(errno));
  }
  read_end_.reset(fds[0]);
  write_end_.reset(fds[1]);
  int expected = -1;
  if (!g_signal_write_fd.compare_exchange_strong(expected, write_end_.get())) {
    throw std::logic_error("launcher: another launch is already forwarding signals in this process");
  }
  struct sigaction action {};
  action.sa_handler = writeSignalToPipe;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &action, &previous_int_);
  ::sigaction(SIGTERM, &action, &previous_term_);
}

SignalCapture::~SignalCapture() {
  ::sigaction(SIGINT, &previous_int_, nullptr);
  ::sigaction(SIGTERM, &previous_term_, nullptr);
  g_signal_write_fd.store(-1);
}

int SignalCapture::takeSignal() {
  unsigned char byte = 0;
  const ssize_t got = ::read(read_end_.get(), &byte, 1);
  return got == 1 ? byte : 0;
}

}  // namespace behemoth
