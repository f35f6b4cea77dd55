#include "ui/schedule_view.h"

#include <QCoreApplication>
#include <QPaintEvent>
#include <QResizeEvent>
#include <QPainter>

#include <algorithm>
#include <cmath>

namespace behemoth::ui {
namespace {

constexpr int kMargin = 8;
constexpr int kTitleHeight = 22;
constexpr int kRowHeight = 20;
constexpr int kRowGap = 4;
constexpr int kAxisHeight = 18;
constexpr int kChartGap = 14;
constexpr int kLegendHeight = 22;
constexpr int kLabelWidth = 58;
constexpr int kBubbleWidth = 86;
constexpr int kMessageHeight = 40;

// A tick step of 1, 2 or 5 times a power of ten giving about `ticks` ticks over `span`.
double tickStep(double span, int ticks) {
  if (span <= 0) return 1.0;
  const double raw = span / std::max(1, ticks);
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double factor : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= factor * power) return factor * power;
  }
  return 10.0 * power;
}

// Seconds as ms below a one-second tick step, as s above.
QString tickLabel(double value, double step, const QString& unit) {
  if (unit != QLatin1String("s")) return QString::number(value, 'g', 4);
  if (step >= 1.0) return QString::number(value, 'g', 4) + QStringLiteral(" s");
  return QString::number(value * 1e3, 'g', 4) + QStringLiteral(" ms");
}

bool namesPipelineField(const std::string& field) { return field.rfind("parallel.pp", 0) == 0; }

struct LegendEntry {
  QColor color;
  QString name;
};

std::vector<LegendEntry> legendEntries(const QColor& idle) {
  auto tr = [](const char* text) { return QCoreApplication::translate("ScheduleView", text); };
  return {{ScheduleView::actionColor(PipelineActionKind::forward), tr("forward")},
          {ScheduleView::actionColor(PipelineActionKind::backward), tr("backward")},
          {ScheduleView::actionColor(PipelineActionKind::backward_input), tr("backward, input gradients")},
          {ScheduleView::actionColor(PipelineActionKind::backward_weight), tr("backward, weight gradients")},
          {idle, tr("idle")},
          {ScheduleView::actionColor(PipelineActionKind::forward, 1), tr("lighter: later model chunk")}};
}

}  // namespace

ScheduleView::ScheduleView(QWidget* parent) : QWidget(parent) {
  setObjectName(QStringLiteral("scheduleView"));
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Minimum);
}

QColor ScheduleView::actionColor(PipelineActionKind kind, int chunk) {
  QColor color;
  switch (kind) {
    case PipelineActionKind::forward: color = QColor(0x00, 0x72, 0xB2); break;          // blue
    case PipelineActionKind::backward: color = QColor(0xD5, 0x5E, 0x00); break;         // vermillion
    case PipelineActionKind::backward_input: color = QColor(0xE6, 0x9F, 0x00); break;   // orange
    case PipelineActionKind::backward_weight: color = QColor(0x00, 0x9E, 0x73); break;  // green
    default: color = QColor(0x94, 0xA3, 0xB8); break;
  }
  return chunk > 0 ? color.lighter(100 + std::min(chunk, 3) * 30) : color;
}

void ScheduleView::setCharts(std::vector<ScheduleChart> charts) {
  charts_ = std::move(charts);
  updateGeometry();
  update();
}

void ScheduleView::showAnalysis(const AnalysisPtr& analysis) {
  std::vector<ScheduleChart> charts;
  has_pipeline_ = false;
  if (analysis) {
    const int pp = analysis->project ? analysis->project->plan.pp : 1;
    if (analysis->error) {
      // The engine's own words: the schedule the plan asks for cannot be drawn.
      has_pipeline_ = pp > 1 || namesPipelineField(analysis->error->field);
      ScheduleChart chart;
      chart.title = tr("Pipeline schedule");
      chart.message = QString::fromStdString(analysis->error->message);
      charts.push_back(std::move(chart));
    } else if (analysis->project) {
      has_pipeline_ = pp > 1;
      const bool timed = analysis->estimate && analysis->model;
      charts.push_back(timed ? plannedChart(*analysis->project, *analysis->model, analysis->estimate->layout, analysis->device)
                             : plannedChart(*analysis->project));
      if (!charts.back().drawable()) charts.back().title = tr("Pipeline schedule");
    }
  }
  setCharts(std::move(charts));
}

int ScheduleView::chartHeight(const ScheduleChart& chart) const {
  if (!chart.drawable()) return kTitleHeight + kMessageHeight;
  return kTitleHeight + int(chart.rows.size()) * (kRowHeight + kRowGap) + kAxisHeight;
}

int ScheduleView::contentHeight() const {
  int height = kMargin;
  bool any_rows = false;
  for (const ScheduleChart& chart : charts_) {
    height += chartHeight(chart) + kChartGap;
    any_rows = any_rows || chart.drawable();
  }
  if (any_rows) height += kLegendHeight * legendLines();
  return height + kMargin;
}

int ScheduleView::legendLines() const {
  const QFontMetrics metrics(font());
  const int left = kMargin + kLabelWidth;
  int lines = 1;
  int x = left;
  for (const LegendEntry& entry : legendEntries(QColor())) {
    const int advance = 17 + metrics.horizontalAdvance(entry.name) + 16;
    if (x > left && x + advance > width() - kMargin) {
      x = left;
      ++lines;
    }
    x += advance;
  }
  return lines;
}

QSize ScheduleView::sizeHint() const { return {640, contentHeight()}; }
QSize ScheduleView::minimumSizeHint() const { return {320, contentHeight()}; }

void ScheduleView::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  // The legend wraps with the width: the height it needs follows.
  const int lines = legendLines();
  if (lines != legend_lines_) {
    legend_lines_ = lines;
    updateGeometry();
  }
}

void ScheduleView::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  painter.setRenderHint(QPainter::Antialiasing, false);
  const QPalette pal = palette();
  painter.fillRect(rect(), pal.color(QPalette::Base));
  const QColor text = pal.color(QPalette::Text);
  QColor idle = pal.color(QPalette::AlternateBase);
  if (idle == pal.color(QPalette::Base)) idle = pal.color(QPalette::Mid).lighter(160);
  const QColor grid = pal.color(QPalette::Mid);
  QFont base_font = font();
  QFont bold = base_font;
  bold.setBold(true);
  QFont small = base_font;
  small.setPointSizeF(std::max(6.0, base_font.pointSizeF() * 0.8));

  const int left = kMargin + kLabelWidth;
  const int right = width() - kMargin - kBubbleWidth;
  const int track = std::max(10, right - left);
  int y = kMargin;
  bool any_rows = false;
  for (const ScheduleChart& chart : charts_) {
    painter.setFont(bold);
    painter.setPen(text);
    painter.drawText(QRect(kMargin, y, width() - 2 * kMargin, kTitleHeight), Qt::AlignLeft | Qt::AlignVCenter,
                     chart.title);
    y += kTitleHeight;
    if (!chart.drawable()) {
      painter.setFont(base_font);
      painter.setPen(QColor(0xEF, 0x44, 0x44));
      painter.drawText(QRect(kMargin, y, width() - 2 * kMargin, kMessageHeight), Qt::AlignLeft | Qt::AlignTop | Qt::TextWordWrap,
                       chart.message);
      y += kMessageHeight + kChartGap;
      continue;
    }
    any_rows = true;
    const double span = chart.span > 0 ? chart.span : 1.0;
    auto xOf = [&](double t) { return left + t / span * track; };
    for (const ScheduleRow& row : chart.rows) {
      painter.setFont(base_font);
      painter.setPen(text);
      painter.drawText(QRect(kMargin, y, kLabelWidth - 6, kRowHeight), Qt::AlignRight | Qt::AlignVCenter,
                       tr("rank %1").arg(row.stage));
      painter.fillRect(QRectF(left, y, track, kRowHeight), idle);
      painter.setFont(small);
      for (const ScheduleBox& box : row.boxes) {
        const QRectF area(xOf(box.start), y + 1, std::max(1.0, xOf(box.end) - xOf(box.start)), kRowHeight - 2);
        const QColor fill = actionColor(box.kind, box.chunk);
        painter.fillRect(area, fill);
        painter.setPen(QPen(pal.color(QPalette::Base), 1));
        painter.drawLine(area.topRight(), area.bottomRight());  // neighbours stay apart
        if (area.width() >= 14) {
          painter.setPen(fill.lightness() > 150 ? QColor(0x1F, 0x29, 0x37) : Qt::white);
          painter.drawText(area, Qt::AlignCenter, QString::number(box.micro_batch));
        }
      }
      painter.setFont(base_font);
      painter.setPen(text);
      painter.drawText(QRect(right + 6, y, kBubbleWidth - 6, kRowHeight), Qt::AlignLeft | Qt::AlignVCenter, row.bubble_text);
      y += kRowHeight + kRowGap;
    }
    // The time axis.
    painter.setPen(grid);
    painter.drawLine(QPointF(left, y), QPointF(left + track, y));
    painter.setFont(small);
    const double step = tickStep(span, std::max(2, track / 90));
    for (double t = 0; t <= span * 1.0001; t += step) {
      const double x = xOf(t);
      painter.setPen(grid);
      painter.drawLine(QPointF(x, y), QPointF(x, y + 3));
      painter.setPen(text);
      painter.drawText(QRectF(x - 40, y + 3, 80, kAxisHeight - 3), Qt::AlignHCenter | Qt::AlignTop, tickLabel(t, step, chart.unit));
    }
    if (chart.unit != QLatin1String("s")) {
      painter.drawText(QRect(right + 6, y, kBubbleWidth + kMargin, kAxisHeight), Qt::AlignLeft | Qt::AlignVCenter,
                       tr("time"));
    }
    y += kAxisHeight + kChartGap;
  }
  if (!any_rows) return;
  // The legend, wrapped to the width.
  painter.setFont(base_font);
  const QFontMetrics metrics(base_font);
  int x = left;
  for (const LegendEntry& entry : legendEntries(idle)) {
    const int advance = 17 + metrics.horizontalAdvance(entry.name) + 16;
    if (x > left && x + advance > width() - kMargin) {
      x = left;
      y += kLegendHeight;
    }
    painter.fillRect(QRect(x, y + 5, 12, 12), entry.color);
    painter.setPen(grid);
    painter.drawRect(QRect(x, y + 5, 12, 12));
    painter.setPen(text);
    painter.drawText(QPoint(x + 17, y + 5 + metrics.ascent() - 1), entry.name);
    x += advance;
  }
}

}  // namespace behemoth::ui
