#include "backend/train/stop_request.h"

#include <atomic>
#include <csignal>

namespace behemoth {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void onStopSignal(int signal_number) {
  if (g_stop.exchange(true)) {
    // A second signal: the user means it. Default action from now on, and re-raise.
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
  }
}

}  // namespace

void installStopRequestHandlers() {
  struct sigaction action {};
  action.sa_handler = onStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool stopRequested() { return g_stop.load(std::memory_order_relaxed); }

void setStopRequested(bool requested) { g_stop.store(requested); }

}  // namespace behemoth
