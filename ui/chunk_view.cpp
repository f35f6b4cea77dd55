#include "ui/chunk_view.h"

#include <QCoreApplication>
#include <QHelpEvent>
#include <QPaintEvent>
#include <QPainter>
#include <QPainterPath>
#include <QToolTip>

#include <algorithm>
#include <map>

#include "ui/chart_style.h"

namespace behemoth::ui {
namespace {

constexpr int kMargin = 8;
constexpr int kTitleHeight = 22;
constexpr int kLineHeight = 18;
constexpr int kLegendHeight = 22;
constexpr int kColumnHeader = 20;
constexpr int kTrackAxis = 20;   // stage labels above the move track
constexpr int kRowHeight = 24;
constexpr int kRowGap = 3;
constexpr int kIndexWidth = 56;
constexpr int kPillWidth = 58;
constexpr int kPillGap = 4;
constexpr int kTextWidth = 176;
constexpr int kMessageHeight = 40;

QString tr(const char* text) { return QCoreApplication::translate("ChunkView", text); }

QString partLetter(const std::string& part) {
  if (part == "param") return QStringLiteral("P");
  if (part == "grad") return QStringLiteral("G");
  return QStringLiteral("O");
}

QColor textOn(const QColor& fill) { return fill.lightness() > 160 ? QColor(0x1F, 0x29, 0x37) : Qt::white; }

bool namesChunkField(const std::string& field) {
  static const char* const kFields[] = {"parallel.chunk_mb", "parallel.device_budget_mb", "parallel.placement",
                                        "parallel.offload_param_fraction", "parallel.offload_optim_fraction",
                                        "parallel.disk_optim_fraction", "parallel.offload_dir", "parallel.prefetch"};
  for (const char* name : kFields) {
    if (field == name) return true;
  }
  return false;
}

struct LegendEntry {
  QColor color;
  QString name;
  bool hatched = false;
};

std::vector<LegendEntry> legendEntries(const QColor& tensor, bool measured) {
  std::vector<LegendEntry> entries = {{ChunkView::tierColor(Tier::device), tr("device")},
                                      {ChunkView::tierColor(Tier::host), tr("host memory")},
                                      {ChunkView::tierColor(Tier::disk), tr("disk (offload_dir)")},
                                      {tensor, tr("tensors")},
                                      {tensor, tr("padding"), true}};
  if (measured) entries.push_back({QColor(), tr("moves: P param, G gradient, O optimizer shard, in the tier it went to, edged in the tier it left")});
  return entries;
}

int legendLinesFor(const QFontMetrics& metrics, int width, bool measured) {
  int lines = 1;
  int x = kMargin;
  for (const LegendEntry& entry : legendEntries(QColor(), measured)) {
    const int advance = (entry.color.isValid() || entry.hatched ? 17 : 0) + metrics.horizontalAdvance(entry.name) + 16;
    if (x > kMargin && x + advance > width - kMargin) {
      x = kMargin;
      ++lines;
    }
    x += advance;
  }
  return lines;
}

}  // namespace

ChunkView::ChunkView(QWidget* parent) : QWidget(parent) {
  setObjectName(QStringLiteral("chunkView"));
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Minimum);
  setMouseTracking(true);
}

QColor ChunkView::tierColor(Tier tier) { return memoryTierColor(static_cast<int>(tier)); }

void ChunkView::setChart(ChunkChart chart) {
  chart_ = std::move(chart);
  step_ = chart_.steps.empty() ? 0 : chart_.steps.back().step;
  updateGeometry();
  update();
  emit stepChanged(step_);
}

void ChunkView::setStep(int step) {
  if (!chart_.findStep(step) || step == step_) return;
  step_ = step;
  update();
  emit stepChanged(step_);
}

void ChunkView::showAnalysis(const AnalysisPtr& analysis) {
  ChunkChart chart;
  has_chunks_ = false;
  if (analysis && analysis->error) {
    const bool zero3 = analysis->project && analysis->project->plan.zero == 3;
    has_chunks_ = zero3 || namesChunkField(analysis->error->field);
    chart.title = tr("ZeRO-3 chunks");
    chart.message = QString::fromStdString(analysis->error->message);
  } else if (analysis && analysis->chunk_plan && analysis->estimate) {
    has_chunks_ = true;
    const TrainingLayout& layout = analysis->estimate->layout;
    const Project& project = *analysis->project;
    chart = chartFromPlan(*analysis->chunk_plan, layout.dp, layout.workingBytes(), project.plan.placement,
                          tr("The planner's chunk plan (planChunks) for dp %1 · tp %2 · %3: every data-parallel rank "
                             "holds the same shards")
                              .arg(layout.dp)
                              .arg(layout.tp)
                              .arg(QString::fromStdString(numericFormatName(layout.precision))));
    applyTensorNumels(chart, analysis->planned_tensors);
  }
  setChart(std::move(chart));
}

int ChunkView::headerHeight() const {
  const QFontMetrics metrics(font());
  int height = kMargin + kTitleHeight;
  if (!chart_.drawable()) return height + kMessageHeight;
  const int text_width = std::max(100, width() - 2 * kMargin);
  for (const QString& line : {chart_.source_text, chart_.summary}) {
    if (line.isEmpty()) continue;
    height += std::max(kLineHeight, metrics.boundingRect(QRect(0, 0, text_width, 1000), Qt::TextWordWrap, line).height() + 2);
  }
  height += kLegendHeight * legendLinesFor(metrics, width(), chart_.measured());
  height += kColumnHeader;
  if (chart_.measured()) height += kTrackAxis;
  return height;
}

int ChunkView::contentHeight() const {
  return headerHeight() + int(chart_.rows.size()) * (kRowHeight + kRowGap) + kMargin;
}

QSize ChunkView::sizeHint() const { return {760, contentHeight()}; }
QSize ChunkView::minimumSizeHint() const { return {560, contentHeight()}; }

int ChunkView::barLeft() const { return kMargin + kIndexWidth + 2 * (kPillWidth + kPillGap); }

int ChunkView::barWidth() const {
  const int room = std::max(80, width() - barLeft() - kTextWidth - kMargin);
  // A recorded run shares the width with its move track.
  return chart_.measured() ? std::max(80, room * 2 / 5) : room;
}

int ChunkView::trackLeft() const { return barLeft() + barWidth() + kTextWidth; }

QRect ChunkView::rowRect(int row) const {
  return {kMargin, headerHeight() + row * (kRowHeight + kRowGap), width() - 2 * kMargin, kRowHeight};
}

int ChunkView::rowAt(const QPoint& point) const {
  for (int row = 0; row < int(chart_.rows.size()); ++row) {
    if (rowRect(row).contains(point)) return row;
  }
  return -1;
}

QRect ChunkView::barRect(int row) const {
  const QRect r = rowRect(row);
  std::int64_t widest = 1;
  for (const ChunkRow& each : chart_.rows) widest = std::max(widest, each.capacity);
  const double scale = double(chart_.rows.at(row).capacity) / double(widest);
  return {barLeft(), r.top() + 2, std::max(2, int(barWidth() * scale + 0.5)), kRowHeight - 4};
}

QRect ChunkView::trackRect(int row) const {
  const QRect r = rowRect(row);
  return {trackLeft(), r.top(), std::max(10, width() - kMargin - trackLeft()), kRowHeight};
}

bool ChunkView::event(QEvent* event) {
  if (event->type() == QEvent::ToolTip) {
    auto* help = static_cast<QHelpEvent*>(event);
    const int row = rowAt(help->pos());
    if (row >= 0) {
      QToolTip::showText(help->globalPos(), rowToolTip(chart_, std::size_t(row), shownStep()), this, rowRect(row));
    } else {
      QToolTip::hideText();
      event->ignore();
    }
    return true;
  }
  return QWidget::event(event);
}

void ChunkView::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  const QPalette pal = palette();
  painter.fillRect(rect(), pal.color(QPalette::Base));
  const QColor text = pal.color(QPalette::Text);
  const QColor grid = pal.color(QPalette::Mid);
  QColor hint = text;
  hint.setAlpha(170);
  QColor band = pal.color(QPalette::AlternateBase);
  if (band == pal.color(QPalette::Base)) band = pal.color(QPalette::Mid).lighter(165);
  const QColor tensor_a(0x64, 0x74, 0x8B);
  const QColor tensor_b(0x8A, 0x98, 0xAD);
  QFont base_font = font();
  QFont bold = base_font;
  bold.setBold(true);
  QFont small = base_font;
  small.setPointSizeF(std::max(6.5, base_font.pointSizeF() * 0.85));
  const QFontMetrics metrics(base_font);

  int y = kMargin;
  painter.setFont(bold);
  painter.setPen(text);
  painter.drawText(QRect(kMargin, y, width() - 2 * kMargin, kTitleHeight), Qt::AlignLeft | Qt::AlignVCenter,
                   chart_.title.isEmpty() ? tr("ZeRO-3 chunks") : chart_.title);
  y += kTitleHeight;
  painter.setFont(base_font);
  if (!chart_.drawable()) {
    painter.setPen(chart_.message.isEmpty() ? hint : QColor(0xEF, 0x44, 0x44));
    painter.drawText(QRect(kMargin, y, width() - 2 * kMargin, kMessageHeight), Qt::AlignLeft | Qt::AlignTop | Qt::TextWordWrap,
                     chart_.message.isEmpty() ? tr("No chunks: the plan is not ZeRO stage 3.") : chart_.message);
    return;
  }
  const int text_width = width() - 2 * kMargin;
  for (const auto& [line, colour] : {std::pair<QString, QColor>{chart_.source_text, hint}, {chart_.summary, text}}) {
    if (line.isEmpty()) continue;
    const QRect box = metrics.boundingRect(QRect(0, 0, text_width, 1000), Qt::TextWordWrap, line);
    painter.setPen(colour);
    painter.drawText(QRect(kMargin, y, text_width, box.height() + 2), Qt::AlignLeft | Qt::AlignTop | Qt::TextWordWrap, line);
    y += std::max(kLineHeight, box.height() + 2);
  }

  // The legend, wrapped to the width.
  int x = kMargin;
  for (const LegendEntry& entry : legendEntries(tensor_a, chart_.measured())) {
    const bool swatch = entry.color.isValid();
    const int advance = (swatch ? 17 : 0) + metrics.horizontalAdvance(entry.name) + 16;
    if (x > kMargin && x + advance > width() - kMargin) {
      x = kMargin;
      y += kLegendHeight;
    }
    if (swatch) {
      const QRect box(x, y + 5, 12, 12);
      painter.fillRect(box, entry.hatched ? pal.color(QPalette::Base) : entry.color);
      if (entry.hatched) painter.fillRect(box, QBrush(entry.color, Qt::BDiagPattern));
      painter.setPen(grid);
      painter.drawRect(box);
    }
    painter.setPen(text);
    painter.drawText(QPoint(x + (swatch ? 17 : 0), y + 5 + metrics.ascent() - 1), entry.name);
    x += advance;
  }
  y += kLegendHeight;

  // Column headers.
  painter.setFont(small);
  painter.setPen(hint);
  const QFontMetrics small_metrics(small);
  auto header = [&](int left, int w, const QString& label, Qt::Alignment align = Qt::AlignLeft) {
    painter.drawText(QRect(left, y, w, kColumnHeader), align | Qt::AlignVCenter, label);
  };
  header(kMargin, kIndexWidth - 6, tr("chunk"), Qt::AlignRight);
  header(kMargin + kIndexWidth, kPillWidth, tr("param"), Qt::AlignHCenter);
  header(kMargin + kIndexWidth + kPillWidth + kPillGap, kPillWidth, tr("optimizer"), Qt::AlignHCenter);
  header(barLeft(), barWidth(), tr("tensors packed in first-use order, then padding"));
  header(barLeft() + barWidth() + 6, kTextWidth - 6, tr("gathered size · padding"));
  const ChunkStep* step = shownStep();
  const std::vector<UseStage> sequence = stepUseSequence(blocksOf(chart_));
  const int slot_count = int(sequence.size()) + 1;  // the last slot holds moves at an unknown stage
  const int track_left = trackLeft();
  const int track_width = std::max(10, width() - kMargin - track_left);
  auto slotLeft = [&](int slot) { return track_left + double(slot) * track_width / slot_count; };
  if (chart_.measured()) {
    header(track_left, track_width,
           step ? tr("moves in step %1 (%2 moved), in use order").arg(step->step).arg(binaryBytes(double(step->moved_bytes)))
                : tr("no recorded step"));
  }
  y += kColumnHeader;
  if (chart_.measured()) {
    // Stage labels where they fit; otherwise the phases' names over their spans.
    const double slot_width = double(track_width) / slot_count;
    bool labels_fit = true;
    for (const UseStage& stage : sequence) labels_fit = labels_fit && small_metrics.horizontalAdvance(stage.label) + 4 <= slot_width;
    const char* const phases[] = {"forward", "backward", "update"};
    for (const char* phase : phases) {
      int first = -1;
      int last = -1;
      for (int i = 0; i < int(sequence.size()); ++i) {
        if (sequence[i].phase == phase) {
          if (first < 0) first = i;
          last = i;
        }
      }
      if (first < 0) continue;
      const QRectF span(slotLeft(first), y, slotLeft(last + 1) - slotLeft(first), kTrackAxis - 2);
      painter.fillRect(span.adjusted(1, 0, -1, 0), band);
      painter.setPen(text);
      if (!labels_fit) painter.drawText(span, Qt::AlignCenter, tr(phase));
    }
    if (labels_fit) {
      for (int i = 0; i < int(sequence.size()); ++i) {
        painter.drawText(QRectF(slotLeft(i), y, slotLeft(i + 1) - slotLeft(i), kTrackAxis - 2), Qt::AlignCenter, sequence[i].label);
      }
    }
    y += kTrackAxis;
  }

  // The rows.
  for (int r = 0; r < int(chart_.rows.size()); ++r) {
    const ChunkRow& row = chart_.rows[r];
    const QRect area = rowRect(r);
    painter.setFont(base_font);
    painter.setPen(text);
    painter.drawText(QRect(kMargin, area.top(), kIndexWidth - 6, kRowHeight), Qt::AlignRight | Qt::AlignVCenter,
                     row.persistent ? tr("%1 pers.").arg(row.index) : QStringLiteral("#%1").arg(row.index));
    painter.setFont(small);
    const Tier tiers[] = {row.param_tier, row.optim_tier};
    for (int p = 0; p < 2; ++p) {
      const QRect pill(kMargin + kIndexWidth + p * (kPillWidth + kPillGap), area.top() + 3, kPillWidth, kRowHeight - 6);
      const QColor fill = tierColor(tiers[p]);
      painter.setRenderHint(QPainter::Antialiasing, true);
      QPainterPath path;
      path.addRoundedRect(pill, 4, 4);
      painter.fillPath(path, fill);
      painter.setRenderHint(QPainter::Antialiasing, false);
      painter.setPen(textOn(fill));
      painter.drawText(pill, Qt::AlignCenter, QString::fromStdString(tierName(tiers[p])));
    }
    // The bar: one segment per tensor (alternating shades), then the padding hatched.
    const QRect bar = barRect(r);
    const double per_element = row.capacity > 0 ? double(bar.width()) / double(row.capacity) : 0.0;
    double left = bar.left();
    if (!row.tensor_numels.empty()) {
      for (std::size_t t = 0; t < row.tensor_numels.size(); ++t) {
        const double w = double(row.tensor_numels[t]) * per_element;
        painter.fillRect(QRectF(left, bar.top(), std::max(1.0, w), bar.height()), t % 2 == 0 ? tensor_a : tensor_b);
        left += w;
      }
    } else {
      const double w = double(row.numel) * per_element;
      painter.fillRect(QRectF(left, bar.top(), std::max(1.0, w), bar.height()), tensor_a);
      left += w;
    }
    const QRectF padding(left, bar.top(), bar.right() + 1 - left, bar.height());
    if (padding.width() >= 0.5) {
      painter.fillRect(padding, QBrush(tensor_a, Qt::BDiagPattern));
    }
    painter.setPen(grid);
    painter.drawRect(bar.adjusted(0, 0, -1, -1));
    painter.setFont(small);
    painter.setPen(text);
    const QString size = tr("%1 · %2 % pad")
                             .arg(binaryBytes(double(row.capacity) * chart_.working_bytes))
                             .arg(100.0 * row.paddingFraction(), 0, 'f', 1);
    painter.drawText(QRect(barLeft() + barWidth() + 6, area.top(), kTextWidth - 6, kRowHeight), Qt::AlignLeft | Qt::AlignVCenter,
                     size);
    if (!chart_.measured()) continue;
    // The moves of the shown step at their places in the use sequence; several at one place
    // share its width.
    const QRect track = trackRect(r);
    painter.fillRect(QRectF(track_left, track.top() + 1, track_width, kRowHeight - 2), band.lighter(104));
    if (!step || std::size_t(r) >= step->moves.size()) continue;
    std::map<int, std::vector<const ChunkMove*>> at;
    for (const ChunkMove& move : step->moves[std::size_t(r)]) {
      const int index = useIndexOf(sequence, move);
      at[index < 0 ? slot_count - 1 : index].push_back(&move);
    }
    for (const auto& [slot, moves] : at) {
      const double slot_left = slotLeft(slot) + 1;
      const double slot_width = slotLeft(slot + 1) - slotLeft(slot) - 2;
      const double w = slot_width / double(moves.size());
      for (std::size_t m = 0; m < moves.size(); ++m) {
        const QRectF mark(slot_left + m * w, track.top() + 3, std::max(2.0, w - 1), kRowHeight - 6);
        const QColor fill = tierColor(moves[m]->to);
        painter.fillRect(mark, fill);
        painter.fillRect(QRectF(mark.left(), mark.top(), std::min(3.0, mark.width() / 3), mark.height()), tierColor(moves[m]->from));
        if (mark.width() >= 10) {
          painter.setPen(textOn(fill));
          painter.drawText(mark.adjusted(2, 0, 0, 0), Qt::AlignCenter, partLetter(moves[m]->part));
        }
      }
    }
  }
}

}  // namespace behemoth::ui
