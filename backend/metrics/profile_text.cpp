#include "backend/metrics/profile_text.h"

#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

namespace behemoth {
namespace {

std::vector<std::pair<std::string, double>> largestFirst(const std::map<std::string, double>& seconds) {
  std::vector<std::pair<std::string, double>> kinds(seconds.begin(), seconds.end());
  std::stable_sort(kinds.begin(), kinds.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return kinds;
}

double total(const std::map<std::string, double>& seconds) {
  double sum = 0.0;
  for (const auto& [kind, value] : seconds) sum += value;
  return sum;
}

}  // namespace

std::string formatProfileLine(const StepMetrics& metrics) {
  if (metrics.profile_s.empty()) return {};
  const double step = std::max(total(metrics.profile_s), 1e-12);
  std::string line = "  time per step:";
  for (const auto& [kind, seconds] : largestFirst(metrics.profile_s)) {
    if (seconds <= 0.0) continue;
    char text[96];
    std::snprintf(text, sizeof text, "  %s %.3f s (%.0f%%)", kind.c_str(), seconds, 100.0 * seconds / step);
    line += text;
  }
  return line;
}

void ProfileSummary::add(const StepMetrics& metrics) {
  if (metrics.profile_s.empty()) return;
  if (steps_ == 1 && !dropped_first_) {
    // Start again without the warm-up step.
    dropped_first_ = true;
    steps_ = 0;
    sum_s_.clear();
    step_sum_s_ = 0.0;
  }
  for (const auto& [kind, seconds] : metrics.profile_s) sum_s_[kind] += seconds;
  step_sum_s_ += total(metrics.profile_s);
  ++steps_;
}

std::string ProfileSummary::table() const {
  if (steps_ == 0) return {};
  const double step = step_sum_s_ / steps_;
  char text[160];
  std::snprintf(text, sizeof text, "where a step's time went (mean of %d logged step%s%s, %.3f s per step):\n", steps_,
                steps_ == 1 ? "" : "s", dropped_first_ ? " after the first" : "", step);
  std::string table = text;
  for (const auto& [kind, sum] : largestFirst(sum_s_)) {
    const double seconds = sum / steps_;
    std::snprintf(text, sizeof text, "  %-14s %9.4f s  %5.1f %%\n", kind.c_str(), seconds,
                  step > 0 ? 100.0 * seconds / step : 0.0);
    table += text;
  }
  return table;
}

}  // namespace behemoth
