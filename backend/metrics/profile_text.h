// How train.profile's figures read in a terminal: a line per logged step and, at the run's end,
// a table of the mean over the steady steps.
//   time per step: matmul 2.41 s (71%)  attention 0.38 s (11%)  norm 0.12 s (4%) ...
#pragma once

#include <map>
#include <string>

#include "backend/metrics/step_metrics.h"

namespace behemoth {

// The kinds of one step's profile_s, largest first, with their share of the step; empty when the
// step has no profile.
std::string formatProfileLine(const StepMetrics& metrics);

// The mean profile of the logged steps. The first logged step is left out once a later one
// arrives: it pays for warm-up (first-touch allocations, thread start-up).
class ProfileSummary {
 public:
  void add(const StepMetrics& metrics);
  bool empty() const { return steps_ == 0; }
  // "where a step's time went (mean of N steps, S s per step)" and a row per kind.
  std::string table() const;

 private:
  int steps_ = 0;
  bool dropped_first_ = false;
  std::map<std::string, double> sum_s_;
  double step_sum_s_ = 0.0;
};

}  // namespace behemoth
