// The run charts: loss (train and eval), throughput (tokens/s and TFLOP/s), step time, per-rank
// memory, communication per step and gradient norm, for one live run or several recorded runs
// overlaid. Points are appended, never rebuilt, and replots are throttled to 10 per second, so
// a fast event stream costs the window almost nothing.
#pragma once

#include <QStringList>
#include <QTimer>
#include <QWidget>

#include <array>
#include <vector>

#include "ui/run_series.h"
#include "ui/series_transform.h"

class QCustomPlot;
class QCPGraph;
class QCPRange;
class QCPItemStraightLine;
class QCPItemText;

namespace behemoth::ui {

class MetricCharts : public QWidget {
  Q_OBJECT

 public:
  enum Chart { loss = 0, throughput, step_time, memory, communication, gradient_norm, chart_count };

  // How the curves are drawn (the compare view's toolbar sets it; a run view keeps the default).
  struct View {
    double smoothing = 0;                 // EMA weight in [0, 1): 0 draws the raw series only
    XAxisKind x_axis = XAxisKind::step;
    std::array<bool, chart_count> log_y{};  // a logarithmic y axis per chart
    // Runs grouped (indices into the runs): each group drawn as its mean with a min-max band.
    // Empty: every run is its own curve.
    std::vector<std::vector<int>> groups;
    QStringList group_labels;             // the legend's name of each group
  };
  void setView(const View& view);
  const View& view() const { return view_; }

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
  // The crosshair: a vertical line at x on every chart, and at each chart's top left the value of
  // every drawn curve there (the last point at or before x). Hidden by hideCrosshair() or when
  // the mouse leaves. crosshairText is what a chart shows (tests read it).
  void showCrosshairAt(double x);
  void hideCrosshair();
  QString crosshairText(Chart chart) const;
  // The TFLOP/s scale of the throughput chart (right axis), or an empty range without one.
  QCPRange tflopsRange() const;
  const std::vector<RunSeries>& runs() const { return runs_; }

  void applyTheme(const QPalette& palette);
  // Replots now (the throttle otherwise does it within 100 ms).
  void replotNow();

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  struct Line {
    Chart chart;
    int run;
    const QVector<double>* x;  // steps (mapped to the view's x axis as they are copied)
    const QVector<double>* y;
    QCPGraph* graph;
    bool smoothed = false;     // drawn through a Smoother (the view's smoothing weight)
    Smoother smoother{0};
  };
  void buildGraphs();
  void buildGroupGraphs();
  QCPGraph* addLine(Chart chart, int run, const QString& name, const QVector<double>& x, const QVector<double>& y,
                    const QColor& color, Qt::PenStyle style, bool markers, bool right_axis = false, bool smoothable = false);
  void applyAxes();
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
  View view_;
  std::array<QCPItemStraightLine*, chart_count> cross_lines_{};
  std::array<QCPItemText*, chart_count> cross_texts_{};
};

}  // namespace behemoth::ui
