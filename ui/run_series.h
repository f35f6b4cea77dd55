// The curves of one run, built from its events (live from `behemoth run --events`, from a
// metrics.jsonl file, or from the history). Appending is O(1) so live charts never rebuild.
#pragma once

#include <QString>
#include <QVector>

#include <nlohmann/json.hpp>
#include <string>

#include "backend/history/history_store.h"

namespace behemoth::ui {

struct RunSeries {
  QString label;
  double flops_per_token = 0;  // model FLOPs per token (for TFLOP/s); 0 = unknown

  QVector<double> steps;           // x of every per-step series below
  QVector<double> loss;
  QVector<double> tokens_per_s;
  QVector<double> tflops;          // tokens/s x FLOPs per token / 1e12 (empty when unknown)
  QVector<double> step_time_ms;
  QVector<double> model_state_gb;  // per-rank maximum, decimal GB
  QVector<double> peak_rss_gb;
  QVector<double> peak_rss_lowest_gb;  // the rank with the least (equal to the maximum when unknown)
  QVector<double> comm_mb;         // per-rank maximum per step, decimal MB
  QVector<double> grad_norm;
  QVector<double> eval_steps;
  QVector<double> eval_loss;
  QVector<double> checkpoint_steps;  // the steps a checkpoint was saved at (checkpoint_saved)
  // Other x axes of the per-step series: tokens seen after the step, seconds since the run started.
  QVector<double> tokens_seen;
  QVector<double> elapsed_s;
  double started_unix_s = 0;  // when the run started (seconds since 1970; 0 = unknown)

  // Adds a `step`, `eval` or `checkpoint_saved` event; a `run_restarted` event drops the points
  // after the step the workers resume from (they run those steps again). Others are ignored.
  enum class Added { nothing, step, eval, checkpoint, rewound };
  Added addEvent(const nlohmann::json& event);
  void addStep(const StepMetrics& metrics);
  void addEval(double step, double loss);
  void addCheckpoint(double step);
  // Drops every point after `step`.
  void rewindTo(double step);
  bool empty() const { return steps.isEmpty() && eval_steps.isEmpty(); }
};

// Reads OUT_DIR/metrics.jsonl. Throws std::runtime_error naming the file and line of a bad line.
RunSeries readMetricsFile(const QString& path, double flops_per_token = 0);
RunSeries seriesFromHistory(const RunDetails& details);
// FLOPs per token of the model in a project JSON (0 when it does not parse).
double modelFlopsPerToken(const nlohmann::json& project);

}  // namespace behemoth::ui
