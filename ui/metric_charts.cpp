#include "ui/metric_charts.h"

#include <QDateTime>
#include <QGridLayout>
#include <QMouseEvent>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "ui/chart_style.h"
#include "ui/run_groups.h"

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
    plot->installEventFilter(this);
    connect(plot, &QCustomPlot::mouseMove, this, [this, plot](QMouseEvent* event) {
      if (plot->axisRect()->rect().contains(event->pos())) showCrosshairAt(plot->xAxis->pixelToCoord(event->pos().x()));
    });
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
  live.started_unix_s = double(QDateTime::currentMSecsSinceEpoch()) / 1e3;
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

QCPGraph* MetricCharts::addLine(Chart chart, int run, const QString& name, const QVector<double>& x,
                                const QVector<double>& y, const QColor& color, Qt::PenStyle style, bool markers,
                                bool right_axis, bool smoothable) {
  QCustomPlot* plot = plots_[chart];
  const bool smoothing = smoothable && view_.smoothing > 0;
  if (smoothing) {
    // The raw series stays in view, faint, behind its smoothed curve.
    QCPGraph* raw = plot->addGraph(plot->xAxis, right_axis ? plot->yAxis2 : plot->yAxis);
    QColor faint = color;
    faint.setAlpha(70);
    QPen pen(faint, 1, style);
    pen.setCosmetic(true);
    raw->setPen(pen);
    raw->setAdaptiveSampling(true);
    raw->removeFromLegend();
    raw->setName(name + QStringLiteral(" (raw)"));
    lines_.push_back({chart, run, &x, &y, raw, false, Smoother(0)});
  }
  QCPGraph* graph = plot->addGraph(plot->xAxis, right_axis ? plot->yAxis2 : plot->yAxis);
  graph->setName(name);
  QPen pen(color, 2, style);
  pen.setCosmetic(true);
  graph->setPen(pen);
  if (markers) graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, color, color, 5));
  // Adaptive sampling draws, per pixel column, the column's lowest and highest points (and where the
  // line enters and leaves it): a million points draw like a thousand and no spike is lost.
  graph->setAdaptiveSampling(true);
  lines_.push_back({chart, run, &x, &y, graph, smoothing, Smoother(smoothing ? view_.smoothing : 0)});
  return graph;
}

void MetricCharts::setView(const View& view) {
  view_ = view;
  view_.smoothing = std::clamp(view_.smoothing, 0.0, 0.999);
  buildGraphs();
  syncLines();
  replotNow();
}

void MetricCharts::buildGraphs() {
  lines_.clear();
  markers_drawn_.assign(runs_.size(), 0);
  checkpoint_legend_.fill(nullptr);  // clearGraphs below deletes them
  cross_lines_.fill(nullptr);        // clearItems below deletes them
  cross_texts_.fill(nullptr);
  tflops_per_token_ = 0;
  for (QCustomPlot* plot : plots_) {
    plot->clearGraphs();
    plot->clearItems();  // the checkpoint markers
    plot->yAxis2->setVisible(false);
  }
  applyAxes();
  if (!view_.groups.empty()) {
    buildGroupGraphs();
    return;
  }
  const bool single = runs_.size() == 1;
  for (int r = 0; r < static_cast<int>(runs_.size()); ++r) {
    const RunSeries& s = runs_[r];
    const QColor color = seriesColor(r);
    const QString prefix = single ? QString() : s.label + QStringLiteral(" ");
    addLine(loss, r, single ? QStringLiteral("train") : s.label, s.steps, s.loss, color, Qt::SolidLine, false, false, true);
    addLine(loss, r, prefix + QStringLiteral("eval"), s.eval_steps, s.eval_loss, single ? seriesColor(1) : color,
            Qt::DashLine, true);
    // Several runs: the legend names runs (their train line); the title says what dashes mean.
    if (!single) lines_.back().graph->removeFromLegend();
    addLine(throughput, r, prefix + QStringLiteral("tokens/s"), s.steps, s.tokens_per_s, color, Qt::SolidLine, false, false, true);
    // TFLOP/s is tokens/s times a constant: one curve, read against a second scale on the right.
    if (single && s.flops_per_token > 0) {
      tflops_per_token_ = s.flops_per_token / 1e12;
      plots_[throughput]->yAxis2->setVisible(true);
    }
    addLine(step_time, r, prefix + QStringLiteral("step time"), s.steps, s.step_time_ms, color, Qt::SolidLine, false, false, true);
    addLine(memory, r, prefix + (single ? QStringLiteral("peak RSS, highest rank") : QStringLiteral("peak RSS")), s.steps,
            s.peak_rss_gb, color, Qt::SolidLine, false);
    // One run: the spread over ranks (a rank holding more than the others shows as a gap).
    if (single) {
      addLine(memory, r, QStringLiteral("peak RSS, lowest rank"), s.steps, s.peak_rss_lowest_gb, color, Qt::DotLine,
              false);
    }
    addLine(memory, r, prefix + QStringLiteral("model state"), s.steps, s.model_state_gb,
            single ? seriesColor(1) : color, Qt::DashLine, false);
    addLine(communication, r, prefix + QStringLiteral("collectives"), s.steps, s.comm_mb, color, Qt::SolidLine, false, false, true);
    addLine(gradient_norm, r, prefix + QStringLiteral("grad norm"), s.steps, s.grad_norm, color, Qt::SolidLine, false, false, true);
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

// Each group: its mean as the curve (smoothed like a run's), its members' lowest and highest
// values as a filled band, at the steps every member logged; x of the group's first run.
void MetricCharts::buildGroupGraphs() {
  struct Metric {
    Chart chart;
    const char* name;
    QVector<double> RunSeries::*x;
    QVector<double> RunSeries::*y;
    Qt::PenStyle style;
  };
  static const Metric metrics[] = {
      {loss, "train", &RunSeries::steps, &RunSeries::loss, Qt::SolidLine},
      {loss, "eval", &RunSeries::eval_steps, &RunSeries::eval_loss, Qt::DashLine},
      {throughput, "tokens/s", &RunSeries::steps, &RunSeries::tokens_per_s, Qt::SolidLine},
      {step_time, "step time", &RunSeries::steps, &RunSeries::step_time_ms, Qt::SolidLine},
      {memory, "peak RSS", &RunSeries::steps, &RunSeries::peak_rss_gb, Qt::SolidLine},
      {memory, "model state", &RunSeries::steps, &RunSeries::model_state_gb, Qt::DashLine},
      {communication, "collectives", &RunSeries::steps, &RunSeries::comm_mb, Qt::SolidLine},
      {gradient_norm, "grad norm", &RunSeries::steps, &RunSeries::grad_norm, Qt::SolidLine},
  };
  for (int g = 0; g < static_cast<int>(view_.groups.size()); ++g) {
    const std::vector<int>& members = view_.groups[g];
    if (members.empty()) continue;
    const QColor color = seriesColor(g);
    const QString label = g < view_.group_labels.size() ? view_.group_labels[g] : QStringLiteral("group %1").arg(g + 1);
    for (const Metric& metric : metrics) {
      std::vector<const QVector<double>*> xs, ys;
      for (int r : members) {
        if (r < 0 || r >= static_cast<int>(runs_.size())) continue;
        xs.push_back(&(runs_[r].*metric.x));
        ys.push_back(&(runs_[r].*metric.y));
      }
      const GroupCurve curve = groupCurve(xs, ys);
      const RunSeries& first = runs_[members.front()];
      QVector<double> keys;
      for (double step : curve.x) keys.append(xOfStep(first, step, view_.x_axis));
      QCustomPlot* plot = plots_[metric.chart];
      QCPGraph* low = plot->addGraph();
      QCPGraph* high = plot->addGraph();
      QColor edge = color;
      edge.setAlpha(90);
      QColor fill = color;
      fill.setAlpha(45);
      for (QCPGraph* bound : {low, high}) {
        QPen pen(edge, 1, Qt::SolidLine);
        pen.setCosmetic(true);
        bound->setPen(pen);
        bound->removeFromLegend();
      }
      low->setName(label + QStringLiteral(" lowest"));
      high->setName(label + QStringLiteral(" highest"));
      low->setData(keys, curve.low, true);
      high->setData(keys, curve.high, true);
      high->setBrush(fill);
      high->setChannelFillGraph(low);
      QCPGraph* mean = plot->addGraph();
      QPen pen(color, 2, metric.style);
      pen.setCosmetic(true);
      mean->setPen(pen);
      mean->setName(label);
      mean->setAdaptiveSampling(true);
      const bool smooth = metric.style == Qt::SolidLine && metric.chart != memory && view_.smoothing > 0;
      mean->setData(keys, smooth ? smoothed(curve.mean, view_.smoothing) : curve.mean, true);
      // The legend names each group once (its train-loss mean).
      if (!(metric.chart == loss && metric.style == Qt::SolidLine)) mean->removeFromLegend();
    }
  }
  for (int c = 0; c < chart_count; ++c) plots_[c]->legend->setVisible(c == loss);
  if (auto* title = qobject_cast<QCPTextElement*>(plots_[loss]->plotLayout()->element(0, 0))) {
    title->setText(QStringLiteral("Loss per group: mean, band lowest–highest"));
  }
  dirty_ = true;
}

void MetricCharts::applyAxes() {
  for (int c = 0; c < chart_count; ++c) {
    QCustomPlot* plot = plots_[c];
    plot->xAxis->setLabel(xAxisLabel(view_.x_axis));
    if (view_.x_axis == XAxisKind::wall_absolute) {
      auto ticker = QSharedPointer<QCPAxisTickerDateTime>::create();
      ticker->setDateTimeFormat(QStringLiteral("HH:mm:ss"));
      plot->xAxis->setTicker(ticker);
    } else {
      plot->xAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
    }
    if (view_.log_y[c]) {
      plot->yAxis->setScaleType(QCPAxis::stLogarithmic);
      plot->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
    } else {
      plot->yAxis->setScaleType(QCPAxis::stLinear);
      plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
    }
  }
}

void MetricCharts::showCrosshairAt(double x) {
  for (int c = 0; c < chart_count; ++c) {
    QCustomPlot* plot = plots_[c];
    if (!cross_lines_[c]) {
      cross_lines_[c] = new QCPItemStraightLine(plot);
      QPen pen(palette().color(QPalette::WindowText), 1, Qt::DotLine);
      pen.setCosmetic(true);
      cross_lines_[c]->setPen(pen);
      cross_lines_[c]->setSelectable(false);
      cross_texts_[c] = new QCPItemText(plot);
      cross_texts_[c]->setPositionAlignment(Qt::AlignTop | Qt::AlignLeft);
      cross_texts_[c]->position->setType(QCPItemPosition::ptAxisRectRatio);
      cross_texts_[c]->position->setCoords(0.02, 0.03);
      cross_texts_[c]->setTextAlignment(Qt::AlignLeft);
      cross_texts_[c]->setColor(palette().color(QPalette::WindowText));
      QColor back = palette().color(QPalette::Base);
      back.setAlpha(220);
      cross_texts_[c]->setBrush(back);
      cross_texts_[c]->setPadding(QMargins(4, 2, 4, 2));
      cross_texts_[c]->setSelectable(false);
    }
    cross_lines_[c]->point1->setCoords(x, 0);
    cross_lines_[c]->point2->setCoords(x, 1);
    QStringList rows;
    rows << QStringLiteral("%1 %2").arg(xAxisLabel(view_.x_axis)).arg(x, 0, 'g', 6);
    for (int g = 0; g < plot->graphCount(); ++g) {
      QCPGraph* graph = plot->graph(g);
      // Named curves only: not a faint raw copy, a band's edge or the checkpoint legend entry.
      if (graph->dataCount() == 0 || graph->name().endsWith(QStringLiteral(" (raw)")) ||
          graph->name().endsWith(QStringLiteral(" lowest")) || graph->name().endsWith(QStringLiteral(" highest"))) {
        continue;
      }
      auto at = graph->data()->findEnd(x, false);  // the first point after x
      if (at == graph->data()->constBegin()) continue;
      --at;
      rows << QStringLiteral("%1: %2").arg(graph->name()).arg(at->value, 0, 'g', 5);
    }
    cross_texts_[c]->setText(rows.join(QLatin1Char('\n')));
    cross_lines_[c]->setVisible(true);
    cross_texts_[c]->setVisible(rows.size() > 1);
    replotIfSized(plot, true);
  }
}

void MetricCharts::hideCrosshair() {
  for (int c = 0; c < chart_count; ++c) {
    if (!cross_lines_[c]) continue;
    cross_lines_[c]->setVisible(false);
    cross_texts_[c]->setVisible(false);
    replotIfSized(plots_[c], true);
  }
}

QString MetricCharts::crosshairText(Chart chart) const {
  return cross_texts_[chart] && cross_texts_[chart]->visible() ? cross_texts_[chart]->text() : QString();
}

bool MetricCharts::eventFilter(QObject* watched, QEvent* event) {
  if (event->type() == QEvent::Leave) hideCrosshair();
  return QWidget::eventFilter(watched, event);
}

void MetricCharts::syncLines() {
  bool added = false;
  for (Line& line : lines_) {
    if (line.run < 0) continue;  // a group's curve: drawn whole by buildGroupGraphs
    const RunSeries& run = runs_[line.run];
    const int have = line.graph->dataCount();
    const int want = std::min(line.x->size(), line.y->size());
    if (have >= want) continue;
    QVector<double> keys, values;
    keys.reserve(want - have);
    values.reserve(want - have);
    for (int k = have; k < want; ++k) {
      keys.append(xOfStep(run, (*line.x)[k], view_.x_axis));
      values.append(line.smoothed ? line.smoother.next((*line.y)[k]) : (*line.y)[k]);
    }
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
  if (!view_.groups.empty()) return;  // a group's runs saved at different steps
  const bool single = runs_.size() == 1;
  for (std::size_t r = 0; r < runs_.size() && r < markers_drawn_.size(); ++r) {
    const QVector<double>& steps = runs_[r].checkpoint_steps;
    const QColor color = single ? kCheckpointColor : seriesColor(static_cast<int>(r));
    for (int k = markers_drawn_[r]; k < steps.size(); ++k) {
      const double x = xOfStep(runs_[r], steps[k], view_.x_axis);
      for (Chart chart : {loss, throughput}) addCheckpointMarker(chart, x, color);
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
    auto* line = qobject_cast<QCPItemStraightLine*>(plot->item(i));
    if (line && line != cross_lines_[chart]) steps.push_back(line->point1->coords().x());
  }
  return steps;
}

void MetricCharts::scheduleReplot() {
  if (dirty_ && !replot_timer_.isActive()) replot_timer_.start();
}

void MetricCharts::rescale() {
  double last_checkpoint = -1;
  for (const RunSeries& run : runs_) {
    for (double step : run.checkpoint_steps) last_checkpoint = std::max(last_checkpoint, xOfStep(run, step, view_.x_axis));
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
      if (view_.log_y[c]) {
        // A log axis cannot reach zero: from just below the smallest positive point.
        bool found = false;
        double lowest = std::numeric_limits<double>::max();
        for (int g = 0; g < plot->graphCount(); ++g) {
          const QCPRange values = plot->graph(g)->getValueRange(found, QCP::sdPositive);
          if (found) lowest = std::min(lowest, values.lower);
        }
        if (lowest == std::numeric_limits<double>::max()) lowest = 1e-3;
        axis->setRange(lowest / 1.5, std::max(range.upper, lowest) * 1.5);
      } else if (c == loss || c == gradient_norm) {
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
