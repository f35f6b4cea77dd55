#include "backend/train/fault_injection.h"

#include <ATen/ATen.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

namespace behemoth {
namespace {

std::optional<std::pair<int, std::int64_t>> injectedFault() {
  const char* text = std::getenv("BEHEMOTH_TEST_FAIL_AT");
  if (text == nullptr || *text == '\0') return std::nullopt;
  const std::string spec(text);
  const std::size_t colon = spec.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::make_pair(std::stoi(spec.substr(0, colon)), std::stoll(spec.substr(colon + 1)));
}

}  // namespace

void failHereIfInjected(int rank, std::int64_t step) {
  static const auto fault = injectedFault();
  if (!fault || fault->first != rank || fault->second != step) return;
  const at::Tensor table = at::zeros({4, 2});
  (void)at::index_select(table, 0, at::full({1}, 7, at::kLong));  // throws c10::IndexError
}

}  // namespace behemoth
