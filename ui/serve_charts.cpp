#include "ui/serve_charts.h"

#include <QGridLayout>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

#include "ui/chart_style.h"

namespace behemoth::ui {
namespace {

constexpr int kReplotIntervalMs = 100;  // at most 10 replots per second
constexpr double kMinimumSpanS = 10;    // a new server's x axis already spans 10 s

struct ChartText {
  const char* title;
  const char* y_label;
};
constexpr std::array<ChartText, ServeCharts::chart_count> kCharts = {{
    {"Generated tokens/s", "tokens/s (last 2 s)"},
    {"Time to first token", "ms (last 10 s)"},
    {"Inter-token latency", "ms (last 10 s)"},
    {"Request latency", "ms (last 10 s)"},
    {"KV-cache blocks", "blocks"},
    {"Batch and queue", "sequences"},
}};

}  // namespace

ServeCharts::ServeCharts(QWidget* parent) : QWidget(parent) {
  auto* grid = new QGridLayout(this);
  grid->setContentsMargins(0, 0, 0, 0);
  grid->setSpacing(6);
  for (int c = 0; c < chart_count; ++c) {
    QCustomPlot* plot = newTitledChart(this, QString::fromUtf8(kCharts[c].title), QStringLiteral("seconds serving"),
                                       QString::fromUtf8(kCharts[c].y_label));
    plot->setMinimumSize(210, 160);
    plot->setObjectName(QStringLiteral("serve_chart_%1").arg(c));
    // One row of legend entries, above the curves (rescale leaves room).
    plot->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    plots_[c] = plot;
    grid->addWidget(plot, c / 2, c % 2);
  }

  const QColor blue = seriesColor(0);
  const QColor orange = seriesColor(1);
  addLine(throughput, QStringLiteral("tokens/s"), series_.tokens_per_s, blue, Qt::SolidLine, false);
  addLine(time_to_first_token, QStringLiteral("p50"), series_.ttft_p50_ms, blue, Qt::SolidLine, true);
  addLine(time_to_first_token, QStringLiteral("p99"), series_.ttft_p99_ms, orange, Qt::DashLine, true);
  addLine(inter_token, QStringLiteral("p50"), series_.inter_token_p50_ms, blue, Qt::SolidLine, true);
  addLine(inter_token, QStringLiteral("p99"), series_.inter_token_p99_ms, orange, Qt::DashLine, true);
  addLine(request_latency, QStringLiteral("p50"), series_.latency_p50_ms, blue, Qt::SolidLine, true);
  addLine(request_latency, QStringLiteral("p99"), series_.latency_p99_ms, orange, Qt::DashLine, true);
  addLine(kv_blocks, QStringLiteral("in use"), series_.kv_blocks_in_use, blue, Qt::SolidLine, false);
  addLine(kv_blocks, QStringLiteral("pool"), series_.kv_blocks_total, seriesColor(5), Qt::DashLine, false);
  addLine(batch, QStringLiteral("batch size"), series_.batch_size, blue, Qt::SolidLine, false);
  addLine(batch, QStringLiteral("queue length"), series_.queue_length, seriesColor(2), Qt::DashLine, false);
  for (QCustomPlot* plot : plots_) plot->legend->setVisible(plot->graphCount() > 1);

  // Occupancy is in-use blocks over the pool, a fixed number: one curve, a second scale.
  QCustomPlot* kv = plots_[kv_blocks];
  kv->yAxis2->setVisible(true);
  kv->yAxis2->setLabel(QStringLiteral("occupancy %"));
  connect(kv->yAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this, kv](const QCPRange& range) {
    const double pool = series_.kv_blocks_total.isEmpty() ? 0 : series_.kv_blocks_total.last();
    if (pool > 0) kv->yAxis2->setRange(range.lower * 100 / pool, range.upper * 100 / pool);
  });

  replot_timer_.setInterval(kReplotIntervalMs);
  connect(&replot_timer_, &QTimer::timeout, this, [this] {
    if (!dirty_) {
      replot_timer_.stop();
      return;
    }
    replotNow();
  });
  applyTheme(palette());
  rescale();
}

void ServeCharts::addLine(Chart chart, const QString& name, const QVector<double>& y, const QColor& color,
                          Qt::PenStyle style, bool markers) {
  QCustomPlot* plot = plots_[chart];
  QCPGraph* graph = plot->addGraph();
  graph->setName(name);
  QPen pen(color, 2, style);
  pen.setCosmetic(true);
  graph->setPen(pen);
  // Quantiles have gaps (windows without a request): a marker keeps a lone point visible.
  if (markers) graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, color, color, 4));
  graph->setAdaptiveSampling(true);
  lines_.push_back({&y, graph});
}

void ServeCharts::applyTheme(const QPalette& palette) {
  for (QCustomPlot* plot : plots_) restyleTitledChart(plot, palette);
}

void ServeCharts::clear() {
  series_.clear();
  for (const Line& line : lines_) line.graph->data()->clear();
  replotNow();
}

void ServeCharts::addScrape(double seconds, const MetricsScrape& scrape) {
  series_.add(seconds, scrape);
  for (const Line& line : lines_) {
    const int have = line.graph->dataCount();
    const int want = std::min(series_.seconds.size(), line.y->size());
    if (have >= want) continue;
    line.graph->addData(QVector<double>(series_.seconds.begin() + have, series_.seconds.begin() + want),
                        QVector<double>(line.y->begin() + have, line.y->begin() + want), true);
  }
  dirty_ = true;
  if (!replot_timer_.isActive()) replot_timer_.start();
}

void ServeCharts::rescale() {
  const double last = series_.seconds.isEmpty() ? 0 : series_.seconds.last();
  for (int c = 0; c < chart_count; ++c) {
    QCustomPlot* plot = plots_[c];
    plot->xAxis->setRange(0, std::max(kMinimumSpanS, last * 1.02));
    double top = 0;
    for (int g = 0; g < plot->graphCount(); ++g) {
      bool found = false;
      const QCPRange range = plot->graph(g)->data()->valueRange(found);
      if (found) top = std::max(top, range.upper);
    }
    // Rates, latencies and counts start at zero; an idle server's axis still reads 0..1. A chart
    // with a legend keeps its top quarter for it.
    const double headroom = plot->legend->visible() ? 1.35 : 1.12;
    plot->yAxis->setRange(0, top > 0 ? top * headroom : 1.0);
  }
}

void ServeCharts::replotNow() {
  dirty_ = false;
  rescale();
  for (QCustomPlot* plot : plots_) replotIfSized(plot, true);
}

int ServeCharts::graphCount(Chart chart) const { return plots_[chart]->graphCount(); }

int ServeCharts::pointCount(Chart chart, int index) const { return plots_[chart]->graph(index)->dataCount(); }

int ServeCharts::finitePointCount(Chart chart, int index) const {
  int count = 0;
  for (const QCPGraphData& point : *plots_[chart]->graph(index)->data()) count += std::isfinite(point.value) ? 1 : 0;
  return count;
}

}  // namespace behemoth::ui
