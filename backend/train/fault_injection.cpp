#include "backend/train/fault_injection.h"

#include <ATen/ATen.h>

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "backend/launch/environment_names.h"

namespace behemoth {
namespace {

struct InjectedFault {
  int rank = 0;
  std::int64_t step = 0;
};

// This start of the job: BEHEMOTH_RESTART, 0 when unset.
int thisAttempt() {
  const char* restart = std::getenv(launch_env::kRestart);
  return restart == nullptr || *restart == '\0' ? 0 : std::stoi(restart);
}

// RANK:STEP[:ATTEMPT] from `variable`, when set and meant for this attempt.
std::optional<InjectedFault> injectedFault(const char* variable) {
  const char* text = std::getenv(variable);
  if (text == nullptr || *text == '\0') return std::nullopt;
  const std::string spec(text);
  const std::size_t first = spec.find(':');
  if (first == std::string::npos) return std::nullopt;
  const std::size_t second = spec.find(':', first + 1);
  const std::string attempt = second == std::string::npos ? "0" : spec.substr(second + 1);
  if (attempt != "*" && std::stoi(attempt) != thisAttempt()) return std::nullopt;
  return InjectedFault{std::stoi(spec.substr(0, first)), std::stoll(spec.substr(first + 1, second - first - 1))};
}

bool firesHere(const std::optional<InjectedFault>& fault, int rank, std::int64_t step) {
  return fault && fault->rank == rank && fault->step == step;
}

}  // namespace

void failHereIfInjected(int rank, std::int64_t step) {
  static const std::optional<InjectedFault> kill_at = injectedFault("BEHEMOTH_TEST_KILL_AT");
  static const std::optional<InjectedFault> fail_at = injectedFault("BEHEMOTH_TEST_FAIL_AT");
  if (firesHere(kill_at, rank, step)) ::kill(::getpid(), SIGKILL);
  if (!firesHere(fail_at, rank, step)) return;
  const at::Tensor table = at::zeros({4, 2});
  (void)at::index_select(table, 0, at::full({1}, 7, at::kLong));  // throws c10::IndexError
}

}  // namespace behemoth
