#include "ui/mesh_grid_widget.h"

#include <QPainter>
#include <QPainterPath>

#include <algorithm>
#include <cmath>

#include "ui/chart_style.h"
#include "ui/model_zoo.h"

namespace behemoth::ui {
namespace {
constexpr int kMaxTilesPerRow = 8;
constexpr int kTileGap = 8;
constexpr int kNodeGap = 18;
constexpr int kNodeHeader = 20;

// Distinct colours for many groups: the series palette first, then evenly spread hues.
QColor groupColor(int group) {
  if (group < 7) return seriesColor(group);
  // Beyond the palette: golden-angle hues keep neighbours apart.
  return QColor::fromHsv(static_cast<int>(group * 137.508) % 360, 140 + (group % 3) * 30, 200);
}

}  // namespace

MeshGridWidget::MeshGridWidget(QWidget* parent) : QWidget(parent) {
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

void MeshGridWidget::setAnalysis(const std::shared_ptr<const ProjectAnalysis>& analysis, int device_count, int per_node) {
  analysis_ = analysis;
  devices_ = std::max(1, device_count);
  per_node_ = per_node;
  mesh_.reset();
  tp_grid_.reset();
  if (analysis && analysis->project && analysis->project->plan.dp > 0 && !analysis->error) {
    const Plan& plan = analysis->project->plan;
    try {
      mesh_.emplace(plan);
      if (plan.tp > 1 && plan.tp_mode != "1d") tp_grid_ = TensorGrid::fromPlan(plan.tp, plan.tp_mode, plan.tp_depth);
    } catch (const std::exception&) {
      mesh_.reset();
      tp_grid_.reset();
    }
  }
  if (!tp_grid_) sub_axis_ = -1;
  // Tiles keep a readable minimum size; beyond it the grid grows and its scroll area scrolls.
  const int per_node_tiles = per_node_ > 0 ? per_node_ : std::min(devices_, kMaxTilesPerRow);
  const int nodes = (devices_ + per_node_tiles - 1) / per_node_tiles;
  const int rows = nodes * ((per_node_tiles + kMaxTilesPerRow - 1) / kMaxTilesPerRow);
  setMinimumHeight(nodes * (kNodeHeader + kNodeGap) + rows * (22 + kTileGap));
  updateGeometry();
  update();
}

void MeshGridWidget::setHighlightAxis(Axis axis) {
  axis_ = axis;
  sub_axis_ = -1;
  update();
}

void MeshGridWidget::setHighlightGridAxis(int sub_axis) {
  axis_ = Axis::tp;
  sub_axis_ = sub_axis;
  update();
}

int MeshGridWidget::groupOf(int rank) const {
  if (!mesh_ || rank >= mesh_->worldSize()) return -1;
  // Ranks in one group along axis_ differ only in that coordinate. Number groups densely in the
  // order of their first rank (the member with coordinate 0 along axis_).
  int index = 0;
  for (int r = 0; r < rank; ++r) index += firstOfGroup(r) == r ? 1 : 0;
  const int first = firstOfGroup(rank);
  return first == rank ? index : groupOf(first);
}

int MeshGridWidget::firstOfGroup(int rank) const {
  Mesh::Coordinates c = mesh_->coordinates(rank);
  if (sub_axis_ >= 0 && tp_grid_) {
    // The tp rank with this grid coordinate at 0: the group along one sub-axis of the grid.
    std::array<int, 3> g = tp_grid_->coordinates(c[static_cast<int>(Axis::tp)]);
    g[sub_axis_] = 0;
    c[static_cast<int>(Axis::tp)] = tp_grid_->rankAt(g);
    return mesh_->rankAt(c);
  }
  c[static_cast<int>(axis_)] = 0;
  return mesh_->rankAt(c);
}

QString MeshGridWidget::gridCoordinates(int tp_rank) const {
  const std::array<int, 3> g = tp_grid_->coordinates(tp_rank);
  if (tp_grid_->mode == TensorParallelMode::three_d) return QStringLiteral("(x%1 y%2 z%3)").arg(g[0]).arg(g[1]).arg(g[2]);
  if (tp_grid_->depth > 1) return QStringLiteral("(d%1 r%2 c%3)").arg(g[0]).arg(g[1]).arg(g[2]);
  return QStringLiteral("(r%1 c%2)").arg(g[1]).arg(g[2]);
}

QSize MeshGridWidget::sizeHint() const { return {720, 420}; }
QSize MeshGridWidget::minimumSizeHint() const { return {320, 200}; }

void MeshGridWidget::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  painter.setRenderHint(QPainter::Antialiasing);
  const QPalette pal = palette();
  const int per_node = per_node_ > 0 ? per_node_ : std::min(devices_, kMaxTilesPerRow);
  const int nodes = (devices_ + per_node - 1) / per_node;
  const int columns = std::min(per_node, kMaxTilesPerRow);
  const int rows_per_node = (per_node + columns - 1) / columns;
  const int total_rows = nodes * rows_per_node;
  const double available_h = height() - nodes * (kNodeHeader + kNodeGap);
  const double tile_w = std::max(40.0, (width() - 2.0 * kTileGap - (columns - 1) * kTileGap) / columns);
  const double tile_h = std::clamp((available_h - (total_rows - 1) * kTileGap) / std::max(1, total_rows), 22.0, 110.0);
  const bool compact = tile_h < 58 || tile_w < 92;

  // Group numbering once per paint, linear in the ranks.
  std::vector<int> groups(devices_, -1);
  if (mesh_) {
    std::vector<int> first_to_index(devices_, -1);
    int next = 0;
    for (int r = 0; r < std::min(devices_, mesh_->worldSize()); ++r) {
      const int first = firstOfGroup(r);
      if (first_to_index[first] < 0) first_to_index[first] = next++;
      groups[r] = first_to_index[first];
    }
  }

  QFont small = font();
  small.setPointSizeF(std::max(7.0, font().pointSizeF() - 1.5));
  QFont bold = font();
  bold.setBold(true);
  double y = 0;
  for (int node = 0; node < nodes; ++node) {
    painter.setPen(pal.color(QPalette::PlaceholderText));
    painter.setFont(small);
    const int first_rank = node * per_node;
    const int last_rank = std::min(devices_, first_rank + per_node) - 1;
    painter.drawText(QRectF(kTileGap, y, width(), kNodeHeader), Qt::AlignLeft | Qt::AlignVCenter,
                     tr("node %1 · ranks %2–%3").arg(node).arg(first_rank).arg(last_rank));
    y += kNodeHeader;
    const double node_top = y;
    for (int i = 0; first_rank + i <= last_rank; ++i) {
      const int rank = first_rank + i;
      const int row = i / columns;
      const int column = i % columns;
      const QRectF tile(kTileGap + column * (tile_w + kTileGap), node_top + row * (tile_h + kTileGap), tile_w, tile_h);
      const int group = groups[rank];
      QColor fill = group >= 0 ? groupColor(group) : pal.color(QPalette::Button);
      QColor face = fill;
      face.setAlpha(group >= 0 ? 60 : 255);
      QPainterPath path;
      path.addRoundedRect(tile, 6, 6);
      painter.fillPath(path, pal.color(QPalette::Base));
      painter.fillPath(path, face);
      // Over capacity: a red frame; otherwise the group colour.
      bool over = false;
      double used_fraction = -1;
      if (analysis_ && rank < static_cast<int>(analysis_->devices.size()) && analysis_->capacity_bytes > 0) {
        used_fraction = double(analysis_->devices[rank].total()) / analysis_->capacity_bytes;
        over = used_fraction > 1.0;
      }
      painter.setPen(QPen(over ? QColor(0xEF, 0x44, 0x44) : fill, over ? 3 : 1.5));
      painter.drawPath(path);

      // Text: rank, coordinates along axes > 1, memory.
      painter.setPen(pal.color(QPalette::Text));
      painter.setFont(bold);
      const QRectF text_area = tile.adjusted(6, 3, -6, -3);
      painter.drawText(text_area, Qt::AlignLeft | Qt::AlignTop, compact ? QString::number(rank) : tr("rank %1").arg(rank));
      if (mesh_) {
        const Mesh::Coordinates c = mesh_->coordinates(rank);
        QStringList parts;
        for (Axis axis : mesh_->order()) {
          if (mesh_->size(axis) > 1) {
            const std::string_view name = axisName(axis);
            QString part = QStringLiteral("%1%2").arg(QString::fromUtf8(name.data(), int(name.size()))).arg(c[static_cast<int>(axis)]);
            if (axis == Axis::tp && tp_grid_) part += gridCoordinates(c[static_cast<int>(axis)]);
            parts << part;
          }
        }
        const QString coordinates = parts.isEmpty() ? tr("single rank") : parts.join(' ');
        painter.setFont(small);
        if (!compact || tile_h >= 40) {
          painter.drawText(text_area.adjusted(0, 17, 0, 0), Qt::AlignLeft | Qt::AlignTop, coordinates);
        } else if (QFontMetrics(small).horizontalAdvance(coordinates) + 28 < text_area.width()) {
          // Compact tiles: the coordinates beside the rank number.
          painter.drawText(text_area, Qt::AlignRight | Qt::AlignTop, coordinates);
        }
      }
      if (analysis_ && rank < static_cast<int>(analysis_->devices.size()) && !compact) {
        const double used = double(analysis_->devices[rank].total());
        painter.setFont(small);
        const QString text = analysis_->capacity_bytes > 0
                                 ? tr("%1 / %2").arg(humanBytes(used), humanBytes(analysis_->capacity_bytes))
                                 : humanBytes(used);
        painter.drawText(text_area.adjusted(0, 0, 0, -9), Qt::AlignLeft | Qt::AlignBottom, text);
      }
      if (used_fraction >= 0) {
        // The gauge: a thin bar along the bottom edge.
        const QRectF gauge(tile.left() + 6, tile.bottom() - 7, tile.width() - 12, 3.5);
        painter.fillRect(gauge, pal.color(QPalette::Midlight));
        const QColor gauge_color = over ? QColor(0xEF, 0x44, 0x44) : used_fraction > 0.9 ? QColor(0xF5, 0x9E, 0x0B) : QColor(0x10, 0xB9, 0x81);
        painter.fillRect(QRectF(gauge.left(), gauge.top(), gauge.width() * std::min(1.0, used_fraction), gauge.height()), gauge_color);
      }
    }
    y = node_top + rows_per_node * (tile_h + kTileGap) + kNodeGap - kTileGap;
  }
}

}  // namespace behemoth::ui
