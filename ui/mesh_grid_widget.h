// The devices drawn as a grid, one tile per rank, grouped by node. Tiles that share a group
// along the highlighted axis (they differ only in that coordinate: they talk to each other in
// that axis' collectives) share a colour; every tile shows its coordinates and a memory gauge.
#pragma once

#include <QWidget>

#include <optional>
#include <vector>

#include "parallel/plan.h"
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
  int devices_ = 1;
  int per_node_ = 0;
  Axis axis_ = Axis::dp;
};

}  // namespace behemoth::ui
