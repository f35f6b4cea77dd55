#include "backend/history/run_export.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

#include "backend/metrics/events.h"

namespace behemoth {
namespace {

// Shortest text that reads back as the same double; NaN (a diverged loss) as "nan".
std::string exact(double value) {
  if (std::isnan(value)) return "nan";
  char text[40];
  for (int digits = 15; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, value);
    if (std::strtod(text, nullptr) == value) break;
  }
  return text;
}

using Column = std::pair<std::string, std::function<std::string(const StepMetrics&)>>;

std::vector<Column> scalarColumns() {
  const auto whole = [](std::int64_t StepMetrics::*field) {
    return [field](const StepMetrics& m) { return std::to_string(m.*field); };
  };
  const auto real = [](double StepMetrics::*field) { return [field](const StepMetrics& m) { return exact(m.*field); }; };
  const auto optionalReal = [](std::optional<double> StepMetrics::*field) {
    return [field](const StepMetrics& m) { return m.*field ? exact(*(m.*field)) : std::string(); };
  };
  const auto optionalWhole = [](std::optional<std::int64_t> StepMetrics::*field) {
    return [field](const StepMetrics& m) { return m.*field ? std::to_string(*(m.*field)) : std::string(); };
  };
  return {
      {"step", whole(&StepMetrics::step)},
      {"loss", real(&StepMetrics::loss)},
      {"eval_loss", optionalReal(&StepMetrics::eval_loss)},
      {"grad_norm", real(&StepMetrics::grad_norm)},
      {"lr", real(&StepMetrics::lr)},
      {"step_time_s", real(&StepMetrics::step_time_s)},
      {"tokens_per_s", real(&StepMetrics::tokens_per_s)},
      {"tokens_seen", whole(&StepMetrics::tokens_seen)},
      {"elapsed_s", real(&StepMetrics::elapsed_s)},
      {"model_state_bytes", whole(&StepMetrics::model_state_bytes)},
      {"host_state_bytes", whole(&StepMetrics::host_state_bytes)},
      {"peak_rss_bytes", whole(&StepMetrics::peak_rss_bytes)},
      {"comm_bytes", whole(&StepMetrics::comm_bytes)},
      {"activation_bytes", optionalWhole(&StepMetrics::activation_bytes)},
      {"peak_tensor_bytes", optionalWhole(&StepMetrics::peak_tensor_bytes)},
      {"loss_scale", optionalReal(&StepMetrics::loss_scale)},
      {"skipped", [](const StepMetrics& m) { return std::string(m.skipped ? "1" : "0"); }},
  };
}

}  // namespace

ExportFormat exportFormatFromName(const std::string& name) {
  if (name == "csv") return ExportFormat::csv;
  if (name == "jsonl") return ExportFormat::jsonl;
  throw std::invalid_argument("--format: expected csv or jsonl, got '" + name + "'");
}

std::string runToCsv(const RunDetails& details) {
  std::vector<Column> columns = scalarColumns();
  // Every axis any step moved bytes on gets a column (0 on steps without it).
  std::set<std::string> axes;
  for (const StepMetrics& step : details.steps) {
    for (const auto& [axis, bytes] : step.comm_bytes_by_axis) axes.insert(axis);
  }
  for (const std::string& axis : axes) {
    columns.emplace_back("comm_bytes_" + axis, [axis](const StepMetrics& m) {
      const auto found = m.comm_bytes_by_axis.find(axis);
      return std::to_string(found == m.comm_bytes_by_axis.end() ? 0 : found->second);
    });
  }
  std::string out;
  for (std::size_t c = 0; c < columns.size(); ++c) out += (c ? "," : "") + columns[c].first;
  out += "\n";
  for (const StepMetrics& step : details.steps) {
    for (std::size_t c = 0; c < columns.size(); ++c) out += (c ? "," : "") + columns[c].second(step);
    out += "\n";
  }
  return out;
}

std::string runToJsonLines(const RunDetails& details) {
  std::string out;
  for (const StepMetrics& step : details.steps) {
    nlohmann::json line = step.toJson();
    line["event"] = event_type::kStep;
    line["run"] = details.run.id;
    out += line.dump() + "\n";
  }
  return out;
}

}  // namespace behemoth
