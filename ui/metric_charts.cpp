#include "ui/metric_charts.h"

#include <QGridLayout>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "ui/chart_style.h"

namespace behemoth::ui {
namespace {

constexpr int kReplotIntervalMs = 100;  // at most 10 replots per second
const QColor kCheckpointColor(0x64, 0x74, 0x8B);  // slate: reads on both themes

struct ChartText {
  const char* title;
  const char* y_label;
};
constexpr std::array<ChartText, MetricCharts::chart_count> kCharts = {{
    {"Loss", "cross-entropy (nats)"},
    {"Throughput", "tokens/s"},
    {"Step time", "ms per step"},
    {"Memory per rank (highest and lowest rank)", "GB"},
    {"Communication per rank", "MB per step"},
    {"Gradient norm", "global L2 norm"},
}};

}  // namespace

MetricCharts::MetricCharts(QWidget* parent) : QWidget(parent) {
  auto* grid = new QGridLayout(this);
  grid->setContentsMargins(0, 0, 0, 0);
  grid->setSpacing(6);
  for (int c = 0; c < chart_count; ++c) {
    QCustomPlot* plot =
        newTitledChart(this, QString::fromUtf8(kCharts[c].title), QStringLiteral("step"), QString::fromUtf8(kCharts[c].y_label));
    plot->setMinimumSize(260, 180);
    plot->setObjectName(QStringLiteral("chart_%1").arg(c));
    plot->legend->setVisible(false);
    // Memory curves sit high (RSS) and low (model state): their legend goes between them.
    if (c == memory) plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignVCenter | Qt::AlignRight);
    plots_[c] = plot;
    grid->addWidget(plot, c / 3, c % 3);
  }
  plots_[throughput]->yAxis2->setLabel(QStringLiteral("TFLOP/s (model FLOPs)"));
  connect(plots_[throughput]->yAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this](const QCPRange& range) {
    if (tflops_per_token_ > 0) plots_[throughput]->yAxis2->setRange(range.lower * tflops_per_token_, range.upper * tflops_per_token_);
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
}

void MetricCharts::applyTheme(const QPalette& palette) {
  for (QCustomPlot* plot : plots_) restyleTitledChart(plot, palette);
}

void MetricCharts::clear() {
  runs_.clear();
  buildGraphs();
  replotNow();
}

void MetricCharts::setRuns(std::vector<RunSeries> runs) {
  runs_ = std::move(runs);
  buildGraphs();
  syncLines();
  replotNow();
}

void MetricCharts::beginLive(const QString& label, double flops_per_token) {
  RunSeries live;
  live.label = label;
  live.flops_per_token = flops_per_token;
  runs_.clear();
  runs_.push_back(std::move(live));
  buildGraphs();
  replotNow();
}

RunSeries& MetricCharts::liveSeries() {
  if (runs_.empty()) beginLive(QStringLiteral("run"), 0);
  return runs_.front();
}

void MetricCharts::syncLive() {
  syncLines();
  scheduleReplot();
}

void MetricCharts::rebuildLive() {
  buildGraphs();
  syncLines();
  replotNow();
}

void MetricCharts::addLine(Chart chart, int run, const QString& name, const QVector<double>& x, const QVector<double>& y,
                           const QColor& color, Qt::PenStyle style, bool markers, bool right_axis) {
  QCustomPlot* plot = plots_[chart];
  QCPGraph* graph = plot->addGraph(plot->xAxis, right_axis ? plot->yAxis2 : plot->yAxis);
  graph->setName(name);
  QPen pen(color, 2, style);
  pen.setCosmetic(true);
  graph->setPen(pen);
  if (markers) graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, color, color, 5));
  graph->setAdaptiveSampling(true);
  lines_.push_back({chart, run, &x, &y, graph});
}

void MetricCharts::buildGraphs() {
  lines_.clear();
  markers_drawn_.assign(runs_.size(), 0);
  checkpoint_legend_.fill(nullptr);  // clearGraphs below deletes them
  tflops_per_token_ = 0;
  for (QCustomPlot* plot : plots_) {
    plot->clearGraphs();
    plot->clearItems();  // the checkpoint markers
    plot->yAxis2->setVisible(false);
  }
  const bool single = runs_.size() == 1;
  for (int r = 0; r < static_cast<int>(runs_.size()); ++r) {
    const RunSeries& s = runs_[r];
    const QColor color = seriesColor(r);
    const QString prefix = single ? QString() : s.label + QStringLiteral(" ");
    addLine(loss, r, single ? QStringLiteral("train") : s.label, s.steps, s.loss, color, Qt::SolidLine, false);
    addLine(loss, r, prefix + QStringLiteral("eval"), s.eval_steps, s.eval_loss, single ? seriesColor(1) : color,
            Qt::DashLine, true);
    // Several runs: the legend names runs (their train line); the title says what dashes mean.
    if (!single) lines_.back().graph->removeFromLegend();
    addLine(throughput, r, prefix + QStringLiteral("tokens/s"), s.steps, s.tokens_per_s, color, Qt::SolidLine, false);
    // TFLOP/s is tokens/s times a constant: one curve, read against a second scale on the right.
    if (single && s.flops_per_token > 0) {
      tflops_per_token_ = s.flops_per_token / 1e12;
      plots_[throughput]->yAxis2->setVisible(true);
    }
    addLine(step_time, r, prefix + QStringLiteral("step time"), s.steps, s.step_time_ms, color, Qt::SolidLine, false);
    addLine(memory, r, prefix + (single ? QStringLiteral("peak RSS, highest rank") : QStringLiteral("peak RSS")), s.steps,
            s.peak_rss_gb, color, Qt::SolidLine, false);
    // One run: the spread over ranks (a rank holding more than the others shows as a gap).
    if (single) {
      addLine(memory, r, QStringLiteral("peak RSS, lowest rank"), s.steps, s.peak_rss_lowest_gb, color, Qt::DotLine,
              false);
    }
    addLine(memory, r, prefix + QStringLiteral("model state"), s.steps, s.model_state_gb,
            single ? seriesColor(1) : color, Qt::DashLine, false);
    addLine(communication, r, prefix + QStringLiteral("collectives"), s.steps, s.comm_mb, color, Qt::SolidLine, false);
    addLine(gradient_norm, r, prefix + QStringLiteral("grad norm"), s.steps, s.grad_norm, color, Qt::SolidLine, false);
  }
  // One run: a legend where a chart has two lines. Several runs: the loss chart names them (one
  // colour per run everywhere), the memory chart's title says which line is which.
  for (int c = 0; c < chart_count; ++c) {
    plots_[c]->legend->setVisible(single ? plots_[c]->graphCount() > 1 : c == loss && !runs_.empty());
  }
  const bool overlay = !single && !runs_.empty();
  if (auto* title = qobject_cast<QCPTextElement*>(plots_[memory]->plotLayout()->element(0, 0))) {
    title->setText(overlay ? QStringLiteral("Peak RSS (solid) · model state (dashed)") : QString::fromUtf8(kCharts[memory].title));
  }
  if (auto* title = qobject_cast<QCPTextElement*>(plots_[loss]->plotLayout()->element(0, 0))) {
    title->setText(overlay ? QStringLiteral("Loss (solid: train, dashed: eval)") : QString::fromUtf8(kCharts[loss].title));
  }
}

void MetricCharts::syncLines() {
  bool added = false;
  for (Line& line : lines_) {
    const int have = line.graph->dataCount();
    const int want = std::min(line.x->size(), line.y->size());
    if (have >= want) continue;
    QVector<double> keys(line.x->begin() + have, line.x->begin() + want);
    QVector<double> values(line.y->begin() + have, line.y->begin() + want);
    line.graph->addData(keys, values, true);
    added = true;
  }
  if (added) dirty_ = true;
  syncCheckpointMarkers();
}

// A checkpoint save is a dashed vertical line at its step on the loss and throughput charts (one
// run: slate grey; several: the run's colour). Text labels crowd and hide the curves at close
// saves; one legend entry says what the lines are.
void MetricCharts::syncCheckpointMarkers() {
  const bool single = runs_.size() == 1;
  for (std::size_t r = 0; r < runs_.size() && r < markers_drawn_.size(); ++r) {
    const QVector<double>& steps = runs_[r].checkpoint_steps;
    const QColor color = single ? kCheckpointColor : seriesColor(static_cast<int>(r));
    for (int k = markers_drawn_[r]; k < steps.size(); ++k) {
      for (Chart chart : {loss, throughput}) addCheckpointMarker(chart, steps[k], color);
      dirty_ = true;
    }
    markers_drawn_[r] = steps.size();
  }
}

void MetricCharts::addCheckpointMarker(Chart chart, double step, const QColor& color) {
  QCustomPlot* plot = plots_[chart];
  auto* line = new QCPItemStraightLine(plot);
  QPen pen(color, 1, Qt::DashLine);
  pen.setCosmetic(true);
  line->setPen(pen);
  line->point1->setCoords(step, 0);
  line->point2->setCoords(step, 1);
  line->setSelectable(false);
  if (!checkpoint_legend_[chart]) {
    // A graph without points: only its legend entry shows.
    QCPGraph* entry = plot->addGraph();
    entry->setName(QStringLiteral("checkpoint saved"));
    QPen legend_pen(runs_.size() == 1 ? color : kCheckpointColor, 1, Qt::DashLine);
    legend_pen.setCosmetic(true);
    entry->setPen(legend_pen);
    checkpoint_legend_[chart] = entry;
    plot->legend->setVisible(runs_.size() == 1 || chart == loss);
  }
}

std::vector<double> MetricCharts::checkpointMarkers(Chart chart) const {
  std::vector<double> steps;
  QCustomPlot* plot = plots_[chart];
  for (int i = 0; i < plot->itemCount(); ++i) {
    if (auto* line = qobject_cast<QCPItemStraightLine*>(plot->item(i))) steps.push_back(line->point1->coords().x());
  }
  return steps;
}

void MetricCharts::scheduleReplot() {
  if (dirty_ && !replot_timer_.isActive()) replot_timer_.start();
}

void MetricCharts::rescale() {
  double last_checkpoint = -1;
  for (const RunSeries& run : runs_) {
    for (double step : run.checkpoint_steps) last_checkpoint = std::max(last_checkpoint, step);
  }
  for (int c = 0; c < chart_count; ++c) {
    QCustomPlot* plot = plots_[c];
    bool any = false;
    for (int g = 0; g < plot->graphCount(); ++g) any = any || plot->graph(g)->dataCount() > 0;
    if (!any) {
      plot->xAxis->setRange(0, 1);
      plot->yAxis->setRange(0, 1);
      continue;
    }
    plot->rescaleAxes(true);
    // A save at the last step would sit on the plot's edge: every chart keeps the same step axis
    // with a little room on the right.
    if (last_checkpoint >= 0) {
      const QCPRange x = plot->xAxis->range();
      const double upper = std::max(x.upper, last_checkpoint);
      plot->xAxis->setRange(x.lower, upper + 0.02 * std::max(upper - x.lower, 1.0));
    }
    // Rates, times, sizes start at zero; a loss axis shows the range the curve moves in.
    for (QCPAxis* axis : {plot->yAxis}) {
      QCPRange range = axis->range();
      const double span = std::max(range.size(), std::abs(range.upper) * 0.05 + 1e-12);
      if (c == loss || c == gradient_norm) {
        axis->setRange(range.lower - 0.05 * span, range.upper + 0.08 * span);
      } else {
        axis->setRange(0, range.upper + 0.12 * span);
      }
    }
  }
}

void MetricCharts::replotNow() {
  dirty_ = false;
  rescale();
  for (QCustomPlot* plot : plots_) replotIfSized(plot, true);
}

QCPRange MetricCharts::tflopsRange() const {
  return tflops_per_token_ > 0 ? plots_[throughput]->yAxis2->range() : QCPRange(0, 0);
}

int MetricCharts::graphCount(Chart chart) const { return plots_[chart]->graphCount(); }

int MetricCharts::pointCount(Chart chart, int index) const { return plots_[chart]->graph(index)->dataCount(); }

}  // namespace behemoth::ui
