#include "backend/history/history_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>

#include "backend/metrics/progress_printer.h"

namespace behemoth {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxDetailRows = 40;

std::string fixed(double value, int decimals) {
  if (!std::isfinite(value)) return "nan";
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string orDash(const std::optional<double>& value, int decimals) { return value ? fixed(*value, decimals) : "-"; }

std::string joinTags(const std::vector<std::string>& tags) {
  std::string out;
  for (const std::string& tag : tags) out += (out.empty() ? "" : ",") + tag;
  return out;
}

// A table of rows with left-aligned columns two spaces apart.
std::string renderTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (std::size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(widths[c] - row[c].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

// Leaf values of a JSON document by dotted path ("optimizer.lr" -> 0.001).
void flatten(const json& value, const std::string& path, std::map<std::string, std::string>& out) {
  if (value.is_object()) {
    for (const auto& item : value.items()) flatten(item.value(), path.empty() ? item.key() : path + "." + item.key(), out);
  } else {
    out[path] = value.is_string() ? value.get<std::string>() : value.dump();
  }
}

// "+12.3%" of b relative to a; "" when either is missing or a is zero.
std::string relativeChange(const std::optional<double>& a, const std::optional<double>& b) {
  if (!a || !b || *a == 0.0 || !std::isfinite(*a) || !std::isfinite(*b)) return "";
  const double percent = 100.0 * (*b - *a) / std::fabs(*a);
  return (percent >= 0 ? "+" : "") + fixed(percent, 1) + "%";
}

std::optional<double> asDouble(const std::optional<std::int64_t>& value) {
  return value ? std::optional<double>(static_cast<double>(*value)) : std::nullopt;
}

std::string bytesOrDash(const std::optional<std::int64_t>& value) {
  return value ? formatBytes(static_cast<double>(*value)) : "-";
}

std::string durationOrDash(const std::optional<double>& value) { return value ? formatDuration(*value) : "-"; }

std::string lastStepOrDash(const RunRecord& run) { return run.last_step ? std::to_string(*run.last_step) : "-"; }

std::string launcherOrDash(const RunRecord& run) {
  if (!run.launcher) return "-";
  return "pid " + std::to_string(run.launcher->pid) + " on " + run.launcher->host;
}

// Checkpoints, resumes and restarts, one row each.
std::vector<std::vector<std::string>> eventRows(const std::vector<json>& events) {
  std::vector<std::vector<std::string>> rows = {{"STEP", "EVENT", "DETAILS"}};
  for (const json& event : events) {
    const std::string type = event.value("event", std::string());
    const std::string step = event.contains("step") && event["step"].is_number_integer()
                                 ? std::to_string(event["step"].get<std::int64_t>())
                                 : "-";
    std::string detail;
    if (type == "checkpoint_saved") {
      detail = event.value("path", std::string()) + " (" +
               formatBytes(static_cast<double>(event.value("bytes", std::int64_t{0}))) + ", " +
               event.value("reason", std::string()) + ")";
    } else if (type == "run_resumed") {
      detail = "from " + event.value("checkpoint", std::string());
      const std::string layout = event.value("saved_layout", std::string());
      if (!layout.empty()) detail += " (saved by " + layout + ")";
    } else if (type == "run_restarted") {
      const std::string checkpoint = event.value("checkpoint", std::string());
      detail = "restart " + std::to_string(event.value("restart", 0)) + " of " + std::to_string(event.value("max_restarts", 0)) +
               " from " + (checkpoint.empty() ? std::string("the beginning") : checkpoint) + ": " +
               event.value("reason", std::string());
    }
    rows.push_back({step, type, detail});
  }
  return rows;
}

}  // namespace

std::string planSummary(const json& plan) {
  if (!plan.is_object()) return "-";
  std::string out;
  for (const char* axis : {"dp", "pp", "tp", "sp", "ep"}) {
    const auto found = plan.find(axis);
    if (found == plan.end() || !found->is_number_integer()) continue;
    const int size = found->get<int>();
    if (size > 1 || (size == -1)) out += (out.empty() ? "" : " ") + std::string(axis) + (size == -1 ? "*" : std::to_string(size));
  }
  if (const auto zero = plan.find("zero"); zero != plan.end() && zero->is_number_integer() && zero->get<int>() > 0) {
    out += (out.empty() ? "" : " ") + std::string("zero") + std::to_string(zero->get<int>());
  }
  return out.empty() ? "single" : out;
}

std::string formatRunList(const std::vector<RunRecord>& runs) {
  if (runs.empty()) return "no runs recorded\n";
  std::vector<std::vector<std::string>> rows = {
      {"ID", "NAME", "OUTCOME", "STARTED", "PLAN", "STEPS", "LAST STEP", "LOSS", "EVAL", "TOK/S", "TAGS"}};
  for (const RunRecord& run : runs) {
    rows.push_back({std::to_string(run.id), run.name, outcomeName(run.outcome), run.started_at, planSummary(run.plan),
                    std::to_string(run.logged_steps), lastStepOrDash(run), orDash(run.summary.final_loss, 4),
                    orDash(run.summary.final_eval_loss, 4),
                    run.summary.tokens_per_s ? formatCount(*run.summary.tokens_per_s) : "-", joinTags(run.tags)});
  }
  return renderTable(rows);
}

std::string formatRunDetails(const RunDetails& details) {
  const RunRecord& run = details.run;
  std::vector<std::vector<std::string>> fields = {
      {"run", std::to_string(run.id)},
      {"name", run.name},
      {"outcome", outcomeName(run.outcome)},
      {"started", run.started_at},
      {"finished", run.finished_at.value_or("-")},
      {"duration", durationOrDash(run.summary.duration_s)},
      {"last step", lastStepOrDash(run)},
      {"launcher", launcherOrDash(run)},
      {"restarts", std::to_string(run.restarts)},
      {"world size", std::to_string(run.world_size)},
      {"plan", planSummary(run.plan)},
      {"parameters", formatCount(static_cast<double>(run.parameter_count))},
      {"output", run.out_dir},
      {"final loss", orDash(run.summary.final_loss, 4)},
      {"final eval loss", orDash(run.summary.final_eval_loss, 4)},
      {"tokens/s", run.summary.tokens_per_s ? formatCount(*run.summary.tokens_per_s) : "-"},
      {"peak rss", bytesOrDash(run.summary.peak_rss_bytes)},
      {"model state", bytesOrDash(run.summary.model_state_bytes)},
      {"tags", run.tags.empty() ? "-" : joinTags(run.tags)},
  };
  if (!run.error.empty()) fields.push_back({"error", run.error});
  std::string out = renderTable(fields);
  if (!details.events.empty()) out += "\n" + renderTable(eventRows(details.events));
  if (details.steps.empty()) return out + "\nno steps logged\n";

  std::vector<std::vector<std::string>> rows = {{"STEP", "LOSS", "EVAL", "GRAD NORM", "LR", "TOK/S", "RSS", "COMM/STEP"}};
  const std::size_t count = details.steps.size();
  const std::size_t stride = count <= kMaxDetailRows ? 1 : (count + kMaxDetailRows - 1) / kMaxDetailRows;
  for (std::size_t i = 0; i < count; ++i) {
    if (i % stride != 0 && i + 1 != count) continue;
    const StepMetrics& m = details.steps[i];
    char lr[32];
    std::snprintf(lr, sizeof lr, "%.3g", m.lr);
    rows.push_back({std::to_string(m.step), fixed(m.loss, 4), orDash(m.eval_loss, 4), fixed(m.grad_norm, 3), lr,
                    formatCount(m.tokens_per_s), formatBytes(static_cast<double>(m.peak_rss_bytes)),
                    formatBytes(static_cast<double>(m.comm_bytes))});
  }
  out += "\n" + renderTable(rows);
  if (stride > 1) out += "(every " + std::to_string(stride) + "th of " + std::to_string(count) + " logged steps shown)\n";
  return out;
}

std::string formatRunComparison(const RunDetails& a, const RunDetails& b) {
  const RunRecord& ra = a.run;
  const RunRecord& rb = b.run;
  std::vector<std::vector<std::string>> rows = {
      {"", "run " + std::to_string(ra.id), "run " + std::to_string(rb.id), "b vs a"},
      {"name", ra.name, rb.name, ""},
      {"outcome", outcomeName(ra.outcome), outcomeName(rb.outcome), ""},
      {"world size", std::to_string(ra.world_size), std::to_string(rb.world_size), ""},
      {"plan", planSummary(ra.plan), planSummary(rb.plan), ""},
  };
  // Every setting that differs, plan first: that is usually the point of the comparison.
  std::map<std::string, std::string> plan_a, plan_b, project_a, project_b;
  flatten(ra.plan, "parallel", plan_a);
  flatten(rb.plan, "parallel", plan_b);
  flatten(ra.project, "", project_a);
  flatten(rb.project, "", project_b);
  auto addDifferences = [&rows](const std::map<std::string, std::string>& left, const std::map<std::string, std::string>& right,
                                bool skip_parallel) {
    std::map<std::string, bool> keys;
    for (const auto& item : left) keys[item.first] = true;
    for (const auto& item : right) keys[item.first] = true;
    for (const auto& key : keys) {
      if (skip_parallel && key.first.rfind("parallel.", 0) == 0) continue;
      if (key.first == "name") continue;
      const auto in_left = left.find(key.first);
      const auto in_right = right.find(key.first);
      const std::string value_a = in_left == left.end() ? "-" : in_left->second;
      const std::string value_b = in_right == right.end() ? "-" : in_right->second;
      if (value_a != value_b) rows.push_back({key.first, value_a, value_b, ""});
    }
  };
  addDifferences(plan_a, plan_b, false);
  addDifferences(project_a, project_b, true);

  const RunSummary& sa = ra.summary;
  const RunSummary& sb = rb.summary;
  rows.push_back({"final loss", orDash(sa.final_loss, 4), orDash(sb.final_loss, 4), relativeChange(sa.final_loss, sb.final_loss)});
  rows.push_back({"final eval loss", orDash(sa.final_eval_loss, 4), orDash(sb.final_eval_loss, 4),
                  relativeChange(sa.final_eval_loss, sb.final_eval_loss)});
  rows.push_back({"tokens/s", sa.tokens_per_s ? formatCount(*sa.tokens_per_s) : "-",
                  sb.tokens_per_s ? formatCount(*sb.tokens_per_s) : "-", relativeChange(sa.tokens_per_s, sb.tokens_per_s)});
  rows.push_back({"peak rss", bytesOrDash(sa.peak_rss_bytes), bytesOrDash(sb.peak_rss_bytes),
                  relativeChange(asDouble(sa.peak_rss_bytes), asDouble(sb.peak_rss_bytes))});
  rows.push_back({"model state", bytesOrDash(sa.model_state_bytes), bytesOrDash(sb.model_state_bytes),
                  relativeChange(asDouble(sa.model_state_bytes), asDouble(sb.model_state_bytes))});
  rows.push_back({"duration", durationOrDash(sa.duration_s), durationOrDash(sb.duration_s),
                  relativeChange(sa.duration_s, sb.duration_s)});
  rows.push_back({"logged steps", std::to_string(ra.logged_steps), std::to_string(rb.logged_steps), ""});
  rows.push_back({"last step", lastStepOrDash(ra), lastStepOrDash(rb), ""});
  rows.push_back({"restarts", std::to_string(ra.restarts), std::to_string(rb.restarts), ""});
  return renderTable(rows);
}

}  // namespace behemoth
