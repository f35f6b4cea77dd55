// The Serve page's live charts, one point per /metrics scrape: generated tokens/s, time to first
// token, inter-token and request latency (p50 solid, p99 dashed), KV-cache blocks in use against
// the pool (occupancy % on the right), and the batch with the queue. Points are appended and
// replots throttled to 10 per second, as on the Run page.
#pragma once

#include <QTimer>
#include <QWidget>

#include <array>
#include <vector>

#include "ui/serve_series.h"

class QCustomPlot;
class QCPGraph;

namespace behemoth::ui {

class ServeCharts : public QWidget {
  Q_OBJECT

 public:
  enum Chart { throughput = 0, time_to_first_token, inter_token, request_latency, kv_blocks, batch, chart_count };

  explicit ServeCharts(QWidget* parent = nullptr);

  // Empties every chart (a new server).
  void clear();
  void addScrape(double seconds, const MetricsScrape& scrape);
  const ServeSeries& series() const { return series_; }

  QCustomPlot* plot(Chart chart) const { return plots_[chart]; }
  int graphCount(Chart chart) const;
  // Points of graph `index` of a chart, and those that are numbers (a quantile's gaps are NaN).
  int pointCount(Chart chart, int index) const;
  int finitePointCount(Chart chart, int index) const;

  void applyTheme(const QPalette& palette);
  void replotNow();

 private:
  struct Line {
    const QVector<double>* y;
    QCPGraph* graph;
  };
  void addLine(Chart chart, const QString& name, const QVector<double>& y, const QColor& color, Qt::PenStyle style,
               bool markers);
  void rescale();

  std::array<QCustomPlot*, chart_count> plots_{};
  std::vector<Line> lines_;
  ServeSeries series_;
  QTimer replot_timer_;
  bool dirty_ = false;
};

}  // namespace behemoth::ui
