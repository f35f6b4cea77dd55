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

constexpr std::array<const char*, MemoryPanel::kTierSegments> kTierSegmentNames = {
    "device: chunk shards", "device: chunks gathered (peak)", "device: activations", "device: buffers + framework",
    "host memory: chunk shards", "disk: optimizer shards"};

QColor tierSegmentColor(int segment) {
  switch (segment) {
    case MemoryPanel::kDeviceChunks: return memoryTierColor(0);
    case MemoryPanel::kGatheredChunks: return QColor(0x56, 0xB4, 0xE9);  // sky blue: device, transient
    case MemoryPanel::kTierActivations: return memoryCategoryColor(3);
    case MemoryPanel::kTierBuffers: return memoryCategoryColor(4);
    case MemoryPanel::kHostChunks: return memoryTierColor(1);
    default: return memoryTierColor(2);
  }
}

// One rank's ZeRO-3 stack in bytes: the chunk state from the planner's chunk plan (every rank
// holds the same shards), activations and buffers from the memory model.
std::array<std::int64_t, MemoryPanel::kTierSegments> tierBytes(const ChunkPlan& plan, const DeviceMemory& d) {
  const std::int64_t at_rest = plan.tier_bytes[static_cast<int>(Tier::device)];
  return {at_rest,
          std::max<std::int64_t>(0, plan.device_peak_bytes - at_rest),
          d.activations,
          d.buffers,
          plan.tier_bytes[static_cast<int>(Tier::host)],
          plan.tier_bytes[static_cast<int>(Tier::disk)]};
}

std::int64_t deviceSum(const std::array<std::int64_t, MemoryPanel::kTierSegments>& bytes) {
  return bytes[MemoryPanel::kDeviceChunks] + bytes[MemoryPanel::kGatheredChunks] + bytes[MemoryPanel::kTierActivations] +
         bytes[MemoryPanel::kTierBuffers];
}

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

// What the activation bars owe to the sp axis and to the attention kind (first stage's ranks).
QString activationNote(const ProjectAnalysis& a) {
  const TrainingLayout& l = a.estimate->layout;
  const std::int64_t activations = a.devices.empty() ? 0 : a.devices.front().activations;
  QString note = QObject::tr("<br><b>Activations</b> %1 per rank").arg(humanBytes(double(activations)));
  if (l.sp > 1) {
    note += l.context_mode == ContextMode::ring
                ? QObject::tr(" · sequence split over sp %1 (ring attention: K/V blocks passed around the ring): 1/%1 of the tokens each")
                      .arg(l.sp)
                : QObject::tr(" · sequence split over sp %1 (Ulysses: all-to-all to head shards around attention): 1/%1 of the tokens each")
                      .arg(l.sp);
  }
  const double other = double(a.other_attention_activation_bytes);
  note += l.fused_attention ? QObject::tr(" · blockwise attention keeps no s×s scores (dense: %1)").arg(humanBytes(other))
                            : QObject::tr(" · dense attention keeps the s×s scores (blockwise: %1)").arg(humanBytes(other));
  return note;
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
  below = nullptr;
  for (int t = 0; t < kTierSegments; ++t) {
    auto* bars = new QCPBars(plot_->xAxis, plot_->yAxis);
    bars->setName(QString::fromUtf8(kTierSegmentNames[t]));
    bars->setPen(Qt::NoPen);
    bars->setBrush(tierSegmentColor(t));
    bars->setWidthType(QCPBars::wtPlotCoords);
    bars->setWidth(0.72);
    if (below) bars->moveAbove(below);
    below = bars;
    tier_bars_.push_back(bars);
  }
  showBarSet(false);
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

void MemoryPanel::showBarSet(bool tiers) {
  shows_tiers_ = tiers;
  for (QCPBars* bars : bars_) {
    bars->setVisible(!tiers);
    if (tiers) bars->removeFromLegend();
    else bars->addToLegend();
  }
  for (QCPBars* bars : tier_bars_) {
    bars->setVisible(tiers);
    if (tiers) bars->addToLegend();
    else bars->removeFromLegend();
  }
  // The over-capacity outline stays the legend's last entry.
  if (over_marker_ && over_marker_->removeFromLegend()) over_marker_->addToLegend();
  auto* title = qobject_cast<QCPTextElement*>(plot_->plotLayout()->element(0, 0));
  if (title) title->setText(tiers ? tr("Estimated memory per rank: device, host and disk tiers (ZeRO-3)") : tr("Estimated memory per device"));
  plot_->yAxis->setLabel(tiers ? tr("memory per rank (GB)") : tr("device memory (GB)"));
}

std::vector<double> MemoryPanel::tierValues(int segment) const {
  std::vector<double> values;
  const auto data = tier_bars_.at(segment)->data();
  for (auto it = data->constBegin(); it != data->constEnd(); ++it) values.push_back(it->value);
  return values;
}

QStringList MemoryPanel::legendNames() const {
  QStringList names;
  for (int i = 0; i < plot_->legend->itemCount(); ++i) {
    if (auto* item = qobject_cast<QCPPlottableLegendItem*>(plot_->legend->item(i))) names << item->plottable()->name();
  }
  return names;
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
  for (QCPBars* bars : tier_bars_) bars->data()->clear();
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
  const bool tiers = a.chunk_plan.has_value();
  showBarSet(tiers);
  const int n = static_cast<int>(a.devices.size());
  QVector<double> keys(n);
  std::array<QVector<double>, kCategories> values;
  for (auto& v : values) v.resize(n);
  std::array<QVector<double>, kTierSegments> tier_values;
  for (auto& v : tier_values) v.resize(n);
  QVector<double> over_keys, over_values;
  double tallest = 0;
  std::int64_t tier_device_peak = 0;
  for (int i = 0; i < n; ++i) {
    const DeviceMemory& d = a.devices[i];
    keys[i] = d.rank;
    double device_total = double(d.total());
    double stack_total = device_total;
    if (tiers) {
      const auto bytes = tierBytes(*a.chunk_plan, d);
      for (int t = 0; t < kTierSegments; ++t) tier_values[t][i] = double(bytes[t]) / 1e9;
      device_total = double(deviceSum(bytes));
      stack_total = device_total + double(bytes[kHostChunks] + bytes[kDiskChunks]);
      tier_device_peak = std::max(tier_device_peak, deviceSum(bytes));
    } else {
      for (int c = 0; c < kCategories; ++c) values[c][i] = double(categoryBytes(d, c)) / 1e9;
    }
    tallest = std::max(tallest, stack_total / 1e9);
    // The outline surrounds the device part only: host and disk do not count against it.
    if (a.capacity_bytes > 0 && device_total > a.capacity_bytes) {
      over_keys << d.rank;
      over_values << device_total / 1e9;
    }
  }
  if (tiers) {
    for (int t = 0; t < kTierSegments; ++t) tier_bars_[t]->setData(keys, tier_values[t], true);
  } else {
    for (int c = 0; c < kCategories; ++c) bars_[c]->setData(keys, values[c], true);
  }
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
    capacity_label_->setText(tiers ? tr("device capacity %1 GB").arg(capacity_gb, 0, 'f', 1)
                                   : tr("capacity %1 GB").arg(capacity_gb, 0, 'f', 1));
  }
  // Headroom for the legend (two rows of entries in the tier stack).
  const double top = std::max(tallest, capacity_gb) * (tiers ? 1.6 : 1.32);
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
  const double peak = tiers ? double(tier_device_peak) : double(e.memory.peakDeviceBytes());
  const int over = tiers ? int(over_keys.size()) : a.devicesOverCapacity();
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
  if (tiers) {
    const ChunkPlan& plan = *a.chunk_plan;
    details += tr("<br><b>ZeRO-3 chunks</b> per rank: %1 chunks of %2 · device %3 at rest, %4 at the peak · host %5 · disk %6 · "
                  "%7 moved between tiers per step")
                   .arg(plan.chunks.size())
                   .arg(humanBytes(double(plan.chunk_elements) * e.layout.workingBytes()),
                        humanBytes(double(plan.tier_bytes[0])), humanBytes(double(plan.device_peak_bytes)),
                        humanBytes(double(plan.tier_bytes[1])), humanBytes(double(plan.tier_bytes[2])),
                        humanBytes(double(plan.moved_bytes_per_step)));
  } else {
    const std::int64_t host = e.memory.peakHostBytes();
    if (host > 0) details += tr(" · %1 offloaded to host memory per rank").arg(humanBytes(double(host)));
  }
  details += activationNote(a);
  if (a.device.assumed) details += tr(" · unknown device name: H100 figures assumed");
  if (a.run_blocker) details += tr("<br><span style='color:#F59E0B'>Planning only: %1</span>").arg(QString::fromStdString(a.run_blocker->message).toHtmlEscaped());
  details_->setText(details);
}

}  // namespace behemoth::ui
