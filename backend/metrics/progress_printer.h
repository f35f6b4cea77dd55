// A human progress line per step event, e.g.
//   step 120/300  loss 2.314  eval 2.400  1.2k tok/s  rss 210 MB  comm 1.3 MB/step  ETA 0:42
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "backend/metrics/event_sink.h"
#include "backend/metrics/profile_text.h"
#include "backend/metrics/step_metrics.h"

namespace behemoth {

// 950 -> "950", 1234 -> "1.2k", 2.5e6 -> "2.5M".
std::string formatCount(double value);
// Decimal units: 210e6 -> "210 MB", 1.3e6 -> "1.3 MB", 512 -> "512 B".
std::string formatBytes(double bytes);
// Seconds as m:ss, or h:mm:ss past an hour.
std::string formatDuration(double seconds);

// The line for one step; `total_steps` <= 0 leaves out the total and the ETA. `first_step`: the step
// a resumed run started from (its elapsed_s counts from there).
std::string formatProgressLine(const StepMetrics& metrics, int total_steps, std::optional<double> latest_eval_loss,
                               std::int64_t first_step = 0);

class ProgressPrinter : public EventSink {
 public:
  // total_steps <= 0: taken from the run_started event ("total_steps") when it arrives.
  explicit ProgressPrinter(std::ostream& out, int total_steps = 0) : out_(out), total_steps_(total_steps) {}
  void emit(const nlohmann::json& event) override;

 private:
  std::ostream& out_;
  int total_steps_;
  std::optional<double> latest_eval_loss_;
  std::int64_t first_step_ = 0;  // from run_resumed
  ProfileSummary profile_;       // train.profile: printed when the run ends
};

}  // namespace behemoth
