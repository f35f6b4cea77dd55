#include "backend/metrics/progress_printer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdio>

#include "backend/metrics/events.h"

namespace behemoth {
namespace {

std::string printf1(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

// Three significant digits at most, without trailing noise: 210, 21.4, 1.3.
std::string shortNumber(double value) {
  if (value >= 100.0) return printf1("%.0f", value);
  return printf1("%.1f", value);
}

// A numeric event field; a null (a NaN written as JSON) or missing one reads as NaN.
double numberField(const nlohmann::json& event, const char* key) {
  const auto found = event.find(key);
  if (found == event.end() || !found->is_number()) return std::numeric_limits<double>::quiet_NaN();
  return found->get<double>();
}

}  // namespace

std::string formatCount(double value) {
  if (!std::isfinite(value)) return "?";
  if (value < 1e3) return printf1("%.0f", value);
  if (value < 1e6) return shortNumber(value / 1e3) + "k";
  if (value < 1e9) return shortNumber(value / 1e6) + "M";
  return shortNumber(value / 1e9) + "G";
}

std::string formatBytes(double bytes) {
  if (!std::isfinite(bytes)) return "?";
  if (bytes < 1e3) return printf1("%.0f", bytes) + " B";
  if (bytes < 1e6) return shortNumber(bytes / 1e3) + " kB";
  if (bytes < 1e9) return shortNumber(bytes / 1e6) + " MB";
  return shortNumber(bytes / 1e9) + " GB";
}

std::string formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long total = std::lround(seconds);
  const long hours = total / 3600;
  const long minutes = (total % 3600) / 60;
  const long secs = total % 60;
  char text[32];
  if (hours > 0) {
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", hours, minutes, secs);
  } else {
    std::snprintf(text, sizeof text, "%ld:%02ld", minutes, secs);
  }
  return text;
}

std::string formatProgressLine(const StepMetrics& m, int total_steps, std::optional<double> latest_eval_loss,
                               std::int64_t first_step) {
  std::string line = "step " + std::to_string(m.step);
  if (total_steps > 0) line += "/" + std::to_string(total_steps);
  line += "  loss " + printf1("%.3f", m.loss);
  const std::optional<double> eval = m.eval_loss ? m.eval_loss : latest_eval_loss;
  if (eval) line += "  eval " + printf1("%.3f", *eval);
  line += "  " + formatCount(m.tokens_per_s) + " tok/s";
  line += "  rss " + formatBytes(static_cast<double>(m.peak_rss_bytes));
  line += "  comm " + formatBytes(static_cast<double>(m.comm_bytes)) + "/step";
  if (!m.rank_device_bytes.empty()) {
    // ZeRO-3: rank 0's chunk state on each tier and what moved between them.
    line += "  dev/host/disk " + formatBytes(static_cast<double>(m.rank_device_bytes.front())) + "/" +
            formatBytes(static_cast<double>(m.rank_host_bytes.front())) + "/" +
            formatBytes(static_cast<double>(m.rank_disk_bytes.front()));
    line += "  moved " + formatBytes(static_cast<double>(m.rank_tier_moved_bytes.front()));
  }
  if (total_steps > 0 && m.step > first_step) {
    // Mean time per step so far; falls back to this step's time when the elapsed total is unknown.
    const double per_step = m.elapsed_s > 0 ? m.elapsed_s / static_cast<double>(m.step - first_step) : m.step_time_s;
    const double remaining = std::max<double>(0.0, static_cast<double>(total_steps - m.step));
    line += "  ETA " + formatDuration(per_step * remaining);
  }
  return line;
}

void ProgressPrinter::emit(const nlohmann::json& event) {
  const std::string type = eventType(event);
  if (type == event_type::kRunStarted) {
    if (total_steps_ <= 0) total_steps_ = event.value("total_steps", 0);
    first_step_ = 0;
    out_ << "run " << event.value("name", std::string("?")) << " started on " << event.value("world_size", 1)
         << " ranks, " << formatCount(static_cast<double>(event.value("parameter_count", std::int64_t{0})))
         << " parameters, output in " << event.value("out_dir", std::string("?")) << "\n";
  } else if (type == event_type::kStep) {
    const StepMetrics metrics = StepMetrics::fromJson(event);
    if (metrics.eval_loss) latest_eval_loss_ = metrics.eval_loss;
    out_ << formatProgressLine(metrics, total_steps_, latest_eval_loss_, first_step_) << "\n";
    if (!metrics.profile_s.empty()) {
      out_ << formatProfileLine(metrics) << "\n";
      profile_.add(metrics);
    }
  } else if (type == event_type::kEval) {
    latest_eval_loss_ = numberField(event, "eval_loss");
    out_ << "eval at step " << event.value("step", std::int64_t{0}) << ": loss " << printf1("%.4f", *latest_eval_loss_) << "\n";
  } else if (type == event_type::kLog) {
    out_ << event.value("text", std::string()) << "\n";
  } else if (type == event_type::kRunFinished) {
    if (!profile_.empty()) out_ << profile_.table();
    out_ << "run " << event.value("outcome", std::string("completed")) << ": final loss "
         << printf1("%.4f", numberField(event, "final_loss")) << " in " << formatDuration(numberField(event, "duration_s")) << "\n";
  } else if (type == event_type::kRunResumed) {
    first_step_ = event.value("step", std::int64_t{0});
    out_ << "resumed from " << event.value("checkpoint", std::string("?")) << " at step " << event.value("step", std::int64_t{0});
    const std::string layout = event.value("saved_layout", std::string());
    if (!layout.empty()) out_ << " (saved by " << layout << ")";
    if (event.contains("bytes_read")) {
      out_ << ", " << formatBytes(static_cast<double>(event.value("bytes_read", std::int64_t{0}))) << " read in "
           << printf1("%.2f", numberField(event, "load_s")) << " s";
    }
    out_ << "\n";
  } else if (type == event_type::kCheckpointSaved) {
    out_ << "checkpoint at step " << event.value("step", std::int64_t{0}) << ": " << event.value("path", std::string("?"))
         << " (" << formatBytes(static_cast<double>(event.value("bytes", std::int64_t{0}))) << ", "
         << printf1("%.2f", numberField(event, "write_s")) << " s)\n";
  } else if (type == event_type::kRunFailed) {
    out_ << "run failed on rank " << event.value("rank", 0) << ": " << event.value("error", std::string()) << "\n";
  }
  out_.flush();
}

}  // namespace behemoth
