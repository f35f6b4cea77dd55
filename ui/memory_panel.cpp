#include "ui/memory_panel.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include <algorithm>

#include "ui/chart_style.h"
#include "ui/model_zoo.h"

namespace behemoth::ui {
namespace {

constexpr std::array<const char*, MemoryPanel::kCategories> kCategoryNames = {
    "parameters", "gradients", "optimizer states", "activations", "buffers + framework"};

std::int64_t categoryBytes(const DeviceMemory& d, int category) {
  switch (category) {
    case 0: return d.parameters;
    case 1: return d.gradients;
    case 2: return d.optimizer;
    case 3: return d.activations;
    default: return d.buffers;
  }
}

QString milliseconds(double seconds) {
  if (seconds >= 1.0) return QString::number(seconds, 'f', 2) + " s";
  return QString::number(seconds * 1e3, 'f', seconds < 0.01 ? 2 : 1) + " ms";
}

}  // namespace

MemoryPanel::MemoryPanel(QWidget* parent) : QWidget(parent), plot_(new QCustomPlot(this)) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);

  auto* header = new QHBoxLayout;
  headline_ = new QLabel(this);
  headline_->setObjectName(QStringLiteral("memoryHeadline"));
  headline_->setWordWrap(true);
  auto_plan_ = new QPushButton(tr("Auto plan…"), this);
  auto_plan_->setToolTip(tr("Search every layout of these devices with the engine's planner and offer the fastest that fit (Ctrl+P)"));
  header->addWidget(headline_, 1);
  header->addWidget(auto_plan_);
  layout->addLayout(header);

  plot_->setMinimumHeight(240);
  plot_->plotLayout()->insertRow(0);
  plot_->plotLayout()->addElement(0, 0, new QCPTextElement(plot_, tr("Estimated memory per device"), QFont(font().family(), 10, QFont::Bold)));
  plot_->yAxis->setLabel(tr("device memory (GB)"));
  plot_->xAxis->setLabel(tr("device (rank)"));
  plot_->legend->setVisible(true);
  plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
  plot_->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
  plot_->legend->setWrap(3);

  QCPBars* below = nullptr;
  for (int c = 0; c < kCategories; ++c) {
    auto* bars = new QCPBars(plot_->xAxis, plot_->yAxis);
    bars->setName(QString::fromUtf8(kCategoryNames[c]));
    bars->setPen(Qt::NoPen);
    bars->setBrush(memoryCategoryColor(c));
    bars->setWidthType(QCPBars::wtPlotCoords);
    bars->setWidth(0.72);
    if (below) bars->moveAbove(below);
    below = bars;
    bars_.push_back(bars);
  }
  // An unfilled bar as tall as the whole stack, drawn over devices that do not fit.
  over_marker_ = new QCPBars(plot_->xAxis, plot_->yAxis);
  over_marker_->setName(tr("over capacity"));
  over_marker_->setBrush(Qt::NoBrush);
  over_marker_->setPen(QPen(QColor(0xEF, 0x44, 0x44), 2.5));
  over_marker_->setWidthType(QCPBars::wtPlotCoords);
  over_marker_->setWidth(0.86);

  capacity_line_ = new QCPItemStraightLine(plot_);
  capacity_line_->setPen(QPen(QColor(0xEF, 0x44, 0x44), 1.5, Qt::DashLine));
  // The capacity label sits on QCustomPlot's topmost layer, on a backdrop, so bars never hide it.
  capacity_label_ = new QCPItemText(plot_);
  capacity_label_->setLayer(QStringLiteral("overlay"));
  capacity_label_->setPadding(QMargins(4, 1, 4, 1));
  capacity_label_->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
  capacity_label_->position->setTypeX(QCPItemPosition::ptAxisRectRatio);
  capacity_label_->position->setTypeY(QCPItemPosition::ptPlotCoords);
  capacity_label_->setColor(QColor(0xEF, 0x44, 0x44));
  suggestion_ = new QLabel(this);
  suggestion_->setWordWrap(true);
  suggestion_->setObjectName(QStringLiteral("suggestion"));
  suggestion_->setVisible(false);
  connect(suggestion_, &QLabel::linkActivated, this, [this](const QString&) { emit applySuggestionRequested(); });
  layout->addWidget(suggestion_);
  layout->addWidget(plot_, 1);

  details_ = new QLabel(this);
  details_->setObjectName(QStringLiteral("memoryDetails"));
  details_->setWordWrap(true);
  details_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(details_);

  connect(auto_plan_, &QPushButton::clicked, this, &MemoryPanel::autoPlanRequested);
  applyTheme(palette());
}

void MemoryPanel::applyTheme(const QPalette& palette) {
  palette_ = palette;
  QColor backdrop = palette.color(QPalette::Base);
  backdrop.setAlpha(220);
  capacity_label_->setBrush(backdrop);
  styleChart(plot_, palette);
  if (auto* title = qobject_cast<QCPTextElement*>(plot_->plotLayout()->element(0, 0))) {
    title->setTextColor(palette.color(QPalette::Text));
  }
  replotIfSized(plot_);
}

std::vector<double> MemoryPanel::categoryValues(int category) const {
  std::vector<double> values;
  const auto data = bars_.at(category)->data();
  for (auto it = data->constBegin(); it != data->constEnd(); ++it) values.push_back(it->value);
  return values;
}

void MemoryPanel::showSuggestion(const QString& html) {
  suggestion_->setText(html);
  suggestion_->setVisible(!html.isEmpty());
}

QString MemoryPanel::summaryText() const { return headline_->text() + "\n" + details_->text(); }

void MemoryPanel::showAnalysis(const AnalysisPtr& analysis) {
  for (QCPBars* bars : bars_) bars->data()->clear();
  over_marker_->data()->clear();
  if (!analysis || !analysis->estimated() || analysis->devicesOverCapacity() == 0) showSuggestion({});
  if (!analysis || !analysis->estimated()) {
    headline_->setText(analysis && analysis->error
                           ? tr("<b>No estimate:</b> %1").arg(QString::fromStdString(analysis->error->message).toHtmlEscaped())
                           : tr("Estimating…"));
    details_->clear();
    capacity_line_->setVisible(false);
    capacity_label_->setVisible(false);
    replotIfSized(plot_);
    return;
  }
  const ProjectAnalysis& a = *analysis;
  const int n = static_cast<int>(a.devices.size());
  QVector<double> keys(n);
  std::array<QVector<double>, kCategories> values;
  for (auto& v : values) v.resize(n);
  QVector<double> over_keys, over_values;
  double tallest = 0;
  for (int i = 0; i < n; ++i) {
    const DeviceMemory& d = a.devices[i];
    keys[i] = d.rank;
    for (int c = 0; c < kCategories; ++c) values[c][i] = double(categoryBytes(d, c)) / 1e9;
    const double total = double(d.total());
    tallest = std::max(tallest, total / 1e9);
    if (a.capacity_bytes > 0 && total > a.capacity_bytes) {
      over_keys << d.rank;
      over_values << total / 1e9;
    }
  }
  for (int c = 0; c < kCategories; ++c) bars_[c]->setData(keys, values[c], true);
  over_marker_->setData(over_keys, over_values, true);
  over_marker_->removeFromLegend();
  if (!over_keys.isEmpty()) over_marker_->addToLegend();

  const double capacity_gb = a.capacity_bytes / 1e9;
  capacity_line_->setVisible(capacity_gb > 0);
  capacity_label_->setVisible(capacity_gb > 0);
  if (capacity_gb > 0) {
    capacity_line_->point1->setCoords(-1, capacity_gb);
    capacity_line_->point2->setCoords(n + 1, capacity_gb);
    capacity_label_->position->setCoords(0.01, capacity_gb);
    capacity_label_->setText(tr("capacity %1 GB").arg(capacity_gb, 0, 'f', 1));
  }
  const double top = std::max(tallest, capacity_gb) * 1.32;
  plot_->yAxis->setRange(0, top > 0 ? top : 1);
  plot_->xAxis->setRange(-0.6, n - 0.4);
  // Integer ticks, thinned to at most ~16 labels.
  QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
  ticker->setTickStep(std::max(1, (n + 15) / 16));
  ticker->setScaleStrategy(QCPAxisTickerFixed::ssNone);
  plot_->xAxis->setTicker(ticker);
  replotIfSized(plot_);

  // Headline: fit or not, peak and headroom.
  const PlanEstimate& e = *a.estimate;
  const double peak = double(e.memory.peakDeviceBytes());
  const int over = a.devicesOverCapacity();
  QString headline;
  if (a.capacity_bytes <= 0) {
    headline = tr("<b>Peak %1 per device</b> (device memory unknown: set devices.memory_gb to check the fit)").arg(humanBytes(peak));
  } else if (over == 0) {
    headline = tr("<b style='color:#10B981'>Fits:</b> peak %1 of %2 per device (%3 % used)")
                   .arg(humanBytes(peak), humanBytes(a.capacity_bytes))
                   .arg(100.0 * peak / a.capacity_bytes, 0, 'f', 0);
  } else {
    headline = tr("<b style='color:#EF4444'>%1 of %2 devices do not fit:</b> peak %3 of %4 (%5 over). Try ZeRO 2, optimizer offload, more devices, or <i>Auto plan</i>.")
                   .arg(over)
                   .arg(n)
                   .arg(humanBytes(peak), humanBytes(a.capacity_bytes), humanBytes(peak - a.capacity_bytes));
  }
  headline_->setText(headline);

  const TimeEstimate& t = e.time;
  QString details = tr("<b>Step %1</b> · %2 tokens/s · MFU %3 % · %4 moved per rank per step<br>"
                       "compute %5 · pipeline bubble %6 · optimizer %7 · offload %8 · exposed communication %9")
                        .arg(milliseconds(t.step_s), humanCount(t.tokens_per_s))
                        .arg(t.mfu * 100, 0, 'f', 1)
                        .arg(humanBytes(double(e.comm_bytes_per_step)), milliseconds(t.compute_s), milliseconds(t.bubble_s),
                             milliseconds(t.optimizer_s), milliseconds(t.offload_s), milliseconds(t.comm_exposed_s));
  const std::int64_t host = e.memory.peakHostBytes();
  if (host > 0) details += tr(" · %1 offloaded to host memory per rank").arg(humanBytes(double(host)));
  if (a.device.assumed) details += tr(" · unknown device name: H100 figures assumed");
  if (a.run_blocker) details += tr("<br><span style='color:#F59E0B'>Planning only: %1</span>").arg(QString::fromStdString(a.run_blocker->message).toHtmlEscaped());
  details_->setText(details);
}

}  // namespace behemoth::ui
