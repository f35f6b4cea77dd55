#include "ui/run_series.h"

#include <QDateTime>
#include <QFile>
#include <QDir>
#include <QFileInfo>

#include <algorithm>
#include <initializer_list>
#include <stdexcept>

#include "backend/metrics/events.h"
#include "backend/planning/plan_inputs.h"

namespace behemoth::ui {

void RunSeries::addStep(const StepMetrics& m) {
  const double step = double(m.step);
  steps.append(step);
  loss.append(m.loss);
  tokens_per_s.append(m.tokens_per_s);
  if (flops_per_token > 0) tflops.append(m.tokens_per_s * flops_per_token / 1e12);
  step_time_ms.append(m.step_time_s * 1e3);
  model_state_gb.append(double(m.model_state_bytes) / 1e9);
  peak_rss_gb.append(double(m.peak_rss_bytes) / 1e9);
  const auto& ranks = m.rank_peak_rss_bytes;
  const std::int64_t lowest = ranks.empty() ? m.peak_rss_bytes : *std::min_element(ranks.begin(), ranks.end());
  peak_rss_lowest_gb.append(double(lowest) / 1e9);
  comm_mb.append(double(m.comm_bytes) / 1e6);
  grad_norm.append(m.grad_norm);
  tokens_seen.append(double(m.tokens_seen));
  elapsed_s.append(m.elapsed_s);
  if (m.eval_loss) addEval(step, *m.eval_loss);
}

void RunSeries::addEval(double step, double value) {
  // A step event that carried eval_loss and the eval event of the same step are one point.
  if (!eval_steps.isEmpty() && eval_steps.last() == step) {
    eval_loss.last() = value;
    return;
  }
  eval_steps.append(step);
  eval_loss.append(value);
}

void RunSeries::addCheckpoint(double step) {
  if (!checkpoint_steps.isEmpty() && checkpoint_steps.last() == step) return;  // one marker per step
  checkpoint_steps.append(step);
}

namespace {

// Keeps the leading points of `values` whose x (in `xs`) is at most `step`.
void keepUpTo(const QVector<double>& xs, double step, std::initializer_list<QVector<double>*> values) {
  int keep = 0;
  while (keep < xs.size() && xs[keep] <= step) ++keep;
  for (QVector<double>* v : values) {
    if (v->size() > keep) v->resize(keep);
  }
}

}  // namespace

void RunSeries::rewindTo(double step) {
  // Truncate the x vectors last: keepUpTo reads them.
  keepUpTo(steps, step, {&loss, &tokens_per_s, &tflops, &step_time_ms, &model_state_gb, &peak_rss_gb,
                         &peak_rss_lowest_gb, &comm_mb, &grad_norm, &tokens_seen, &elapsed_s});
  keepUpTo(steps, step, {&steps});
  keepUpTo(eval_steps, step, {&eval_loss});
  keepUpTo(eval_steps, step, {&eval_steps});
  keepUpTo(checkpoint_steps, step, {&checkpoint_steps});
}

RunSeries::Added RunSeries::addEvent(const nlohmann::json& event) {
  const std::string type = eventType(event);
  if (type == event_type::kStep) {
    addStep(StepMetrics::fromJson(event));
    return Added::step;
  }
  if (type == event_type::kEval && event.contains("step") && event.contains("eval_loss") &&
      event.at("eval_loss").is_number()) {
    addEval(event.at("step").get<double>(), event.at("eval_loss").get<double>());
    return Added::eval;
  }
  if (type == event_type::kCheckpointSaved && event.contains("step") && event.at("step").is_number()) {
    addCheckpoint(event.at("step").get<double>());
    return Added::checkpoint;
  }
  if (type == event_type::kRunRestarted && event.contains("step") && event.at("step").is_number()) {
    rewindTo(event.at("step").get<double>());
    return Added::rewound;
  }
  return Added::nothing;
}

RunSeries readMetricsFile(const QString& path, double flops_per_token) {
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly | QIODevice::Text)) {
    throw std::runtime_error("metrics file " + path.toStdString() + ": " + file.errorString().toStdString());
  }
  RunSeries series;
  series.label = QFileInfo(path).dir().dirName();
  series.flops_per_token = flops_per_token;
  int line_number = 0;
  while (!file.atEnd()) {
    const QByteArray line = file.readLine().trimmed();
    ++line_number;
    if (line.isEmpty()) continue;
    try {
      series.addEvent(nlohmann::json::parse(line.constData(), line.constData() + line.size()));
    } catch (const std::exception& error) {
      throw std::runtime_error("metrics file " + path.toStdString() + " line " + std::to_string(line_number) + ": " +
                               error.what());
    }
  }
  return series;
}

double modelFlopsPerToken(const nlohmann::json& project) {
  try {
    return flopsPerToken(describeModel(projectFromJson(project).model)).model();
  } catch (const std::exception&) {
    return 0;
  }
}

RunSeries seriesFromHistory(const RunDetails& details) {
  RunSeries series;
  series.label = QStringLiteral("#%1 %2").arg(details.run.id).arg(QString::fromStdString(details.run.name));
  series.flops_per_token = modelFlopsPerToken(details.run.project);
  const QDateTime started = QDateTime::fromString(QString::fromStdString(details.run.started_at), Qt::ISODate);
  if (started.isValid()) series.started_unix_s = double(started.toMSecsSinceEpoch()) / 1e3;
  // The history keeps evaluations apart (details.evals); the copies on step rows are the same points.
  for (StepMetrics step : details.steps) {
    if (!details.evals.empty()) step.eval_loss.reset();
    series.addStep(step);
  }
  for (const auto& [step, loss] : details.evals) series.addEval(double(step), loss);
  return series;
}

}  // namespace behemoth::ui
