#include "ui/run_comparison.h"

#include <map>
#include <set>

#include "backend/project/project.h"
#include "ui/model_zoo.h"

namespace behemoth::ui {
namespace {

void flatten(const nlohmann::json& value, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (value.is_object() && !value.empty()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    }
    return;
  }
  out[prefix] = value.is_string() ? value.get<std::string>() : value.dump();
}

// Every key of `defaults` missing from `recorded`, recursively.
void layUnder(nlohmann::json& recorded, const nlohmann::json& defaults) {
  if (!recorded.is_object() || !defaults.is_object()) return;
  for (auto it = defaults.begin(); it != defaults.end(); ++it) {
    if (!recorded.contains(it.key())) {
      recorded[it.key()] = it.value();
    } else {
      layUnder(recorded[it.key()], it.value());
    }
  }
}

}  // namespace

std::map<std::string, std::string> resolvedSettings(const RunRecord& run) {
  nlohmann::json project = run.project;
  // The resolved plan is what ran (dp filled in); it replaces the project's parallel section.
  if (run.plan.is_object() && !run.plan.empty()) project["parallel"] = run.plan;
  try {
    project = projectToJson(projectFromJson(project));
  } catch (const std::exception&) {
    layUnder(project, projectToJson(Project{}));
  }
  std::map<std::string, std::string> fields;
  flatten(project, "", fields);
  // Where a run wrote its files and what it was called differ by design.
  fields.erase("train.out_dir");
  fields.erase("name");
  return fields;
}

namespace {

template <typename T, typename Format>
QString optionalText(const std::optional<T>& value, Format format) {
  return value ? format(*value) : QStringLiteral("–");
}

}  // namespace

std::vector<ComparisonRow> compareRuns(const std::vector<RunDetails>& runs, bool all_settings) {
  std::vector<ComparisonRow> rows;
  std::vector<std::map<std::string, std::string>> settings;
  std::set<std::string> keys;
  for (const RunDetails& run : runs) {
    settings.push_back(resolvedSettings(run.run));
    for (const auto& [key, value] : settings.back()) keys.insert(key);
  }
  for (const std::string& key : keys) {
    QStringList values;
    std::set<std::string> distinct;
    for (const auto& fields : settings) {
      const auto found = fields.find(key);
      const std::string value = found == fields.end() ? std::string("–") : found->second;
      distinct.insert(value);
      values << QString::fromStdString(value);
    }
    const bool differs = distinct.size() > 1;
    if (differs || all_settings) rows.push_back({QString::fromStdString(key), values, false, differs});
  }

  auto result = [&](const QString& name, auto cell) {
    QStringList values;
    for (const RunDetails& run : runs) values << cell(run.run);
    rows.push_back({name, values, true, true});
  };
  const auto number = [](int digits) { return [digits](double v) { return QString::number(v, 'f', digits); }; };
  result("outcome", [](const RunRecord& r) { return QString::fromStdString(outcomeName(r.outcome)); });
  result("logged steps", [](const RunRecord& r) { return QString::number(r.logged_steps); });
  result("final loss", [&](const RunRecord& r) { return optionalText(r.summary.final_loss, number(4)); });
  result("final eval loss", [&](const RunRecord& r) { return optionalText(r.summary.final_eval_loss, number(4)); });
  result("tokens/s (mean)", [&](const RunRecord& r) { return optionalText(r.summary.tokens_per_s, number(0)); });
  result("peak RSS per rank", [](const RunRecord& r) {
    return optionalText(r.summary.peak_rss_bytes, [](std::int64_t v) { return humanBytes(double(v)); });
  });
  result("model state per rank", [](const RunRecord& r) {
    return optionalText(r.summary.model_state_bytes, [](std::int64_t v) { return humanBytes(double(v)); });
  });
  result("duration", [&](const RunRecord& r) {
    return optionalText(r.summary.duration_s, [](double v) { return QString::number(v, 'f', 1) + " s"; });
  });
  return rows;
}

}  // namespace behemoth::ui
