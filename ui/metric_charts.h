// The run charts: loss (train and eval), throughput (tokens/s and TFLOP/s), step time, per-rank
// memory, communication per step and gradient norm, for one live run or several recorded runs
// overlaid. Points are appended, never rebuilt, and replots are throttled to 10 per second, so
// a fast event stream costs the window almost nothing.
#pragma once

#include <QTimer>
#include <QWidget>

#include <array>
#include <vector>

#include "ui/run_series.h"

class QCustomPlot;
class QCPGraph;
class QCPRange;

namespace behemoth::ui {

class MetricCharts : public QWidget {
  Q_OBJECT

 public:
  enum Chart { loss = 0, throughput, step_time, memory, communication, gradient_norm, chart_count };

  explicit MetricCharts(QWidget* parent = nullptr);

  // Shows these runs overlaid (one colour per run). Keeps a copy.
  void setRuns(std::vector<RunSeries> runs);
  // Starts an empty live run; appendLive() then adds its new points.
  void beginLive(const QString& label, double flops_per_token);
  RunSeries& liveSeries();
  // Copies the live series' points the graphs do not have yet, and schedules a replot.
  void syncLive();
  // The live series lost points (a restart rewound it): rebuilds its graphs from it.
  void rebuildLive();
  void clear();

  QCustomPlot* plot(Chart chart) const { return plots_[chart]; }
  int graphCount(Chart chart) const;
  // Points of graph `index` of a chart (tests and the screenshot check read these).
  int pointCount(Chart chart, int index) const;
  // The steps the checkpoint markers of a chart stand at (the loss and throughput charts have them).
  std::vector<double> checkpointMarkers(Chart chart) const;
  // The TFLOP/s scale of the throughput chart (right axis), or an empty range without one.
  QCPRange tflopsRange() const;
  const std::vector<RunSeries>& runs() const { return runs_; }

  void applyTheme(const QPalette& palette);
  // Replots now (the throttle otherwise does it within 100 ms).
  void replotNow();

 private:
  struct Line {
    Chart chart;
    int run;
    const QVector<double>* x;
    const QVector<double>* y;
    QCPGraph* graph;
  };
  void buildGraphs();
  void addLine(Chart chart, int run, const QString& name, const QVector<double>& x, const QVector<double>& y,
               const QColor& color, Qt::PenStyle style, bool markers, bool right_axis = false);
  void syncLines();
  void syncCheckpointMarkers();
  void addCheckpointMarker(Chart chart, double step, const QColor& color);
  void scheduleReplot();
  void rescale();

  std::array<QCustomPlot*, chart_count> plots_{};
  std::vector<RunSeries> runs_;
  std::vector<Line> lines_;
  std::vector<int> markers_drawn_;  // per run: checkpoint markers already on the charts
  std::array<QCPGraph*, chart_count> checkpoint_legend_{};  // the "checkpoint saved" legend entry
  QTimer replot_timer_;
  bool dirty_ = false;
  double tflops_per_token_ = 0;  // right throughput axis = tokens/s x this (0: no TFLOP/s scale)
};

}  // namespace behemoth::ui
