// The devices drawn as a grid, one tile per rank, grouped by node. Tiles that share a group
// along the highlighted axis (they differ only in that coordinate: they talk to each other in
// that axis' collectives) share a colour; every tile shows its coordinates and a memory gauge.
// Under 2D / 2.5D / 3D tensor parallelism the tp group is a grid (parallel/tensor_grid): a tile
// shows its grid coordinates, and the colours can follow one of the grid's sub-axes.
#pragma once

#include <QWidget>

#include <optional>
#include <vector>

#include "parallel/mesh.h"
#include "parallel/plan.h"
#include "parallel/tensor_grid/tensor_grid.h"
#include "ui/project_analysis.h"

namespace behemoth::ui {

class MeshGridWidget : public QWidget {
  Q_OBJECT

 public:
  explicit MeshGridWidget(QWidget* parent = nullptr);

  // `analysis` may carry no estimate (the grid then shows the devices without coordinates).
  void setAnalysis(const std::shared_ptr<const ProjectAnalysis>& analysis, int device_count, int per_node);
  void setHighlightAxis(Axis axis);
  Axis highlightAxis() const { return axis_; }
  // Colour by one sub-axis (0, 1, 2: tensor_grid.h) of the tp grid; -1: by the highlight axis.
  void setHighlightGridAxis(int sub_axis);
  int highlightGridAxis() const { return sub_axis_; }
  // The plan's tp grid, when its tp_mode is 2d, 2.5d or 3d.
  const std::optional<TensorGrid>& tensorGrid() const { return tp_grid_; }
  // "(r1 c0)", "(d0 r1 c0)" or "(x0 y1 z1)": where a tp rank sits in the grid (tensorGrid() set).
  QString gridCoordinates(int tp_rank) const;
  // The colour group of a rank along the highlighted axis (tests; -1 without a resolved plan).
  int groupOf(int rank) const;

  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  int firstOfGroup(int rank) const;

  std::shared_ptr<const ProjectAnalysis> analysis_;
  std::optional<Mesh> mesh_;
  std::optional<TensorGrid> tp_grid_;
  int sub_axis_ = -1;
  int devices_ = 1;
  int per_node_ = 0;
  Axis axis_ = Axis::dp;
};

}  // namespace behemoth::ui
