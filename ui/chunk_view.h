// The ZeRO-3 chunks of one rank, one row per chunk: its index, the tier of its parameter shard
// and of its optimizer shard (coloured pills), its tensors packed along a bar as long as its
// capacity with the padding drawn as a hatched tail, its gathered size and padding share, and,
// for a recorded run, every tier copy of the chosen step as a mark at its place in the step's use
// sequence (forward, backward, update). Hovering a row lists its tensors and moves. Paints a
// ChunkChart (ui/chunk_model.h); computes nothing itself.
#pragma once

#include <QWidget>

#include "memory/chunk_placement.h"
#include "ui/chunk_model.h"
#include "ui/estimate_service.h"

namespace behemoth::ui {

class ChunkView : public QWidget {
  Q_OBJECT

 public:
  explicit ChunkView(QWidget* parent = nullptr);

  // Shows a chart; a measured chart starts at its last recorded step.
  void setChart(ChunkChart chart);
  const ChunkChart& chart() const { return chart_; }
  // The recorded step whose moves are drawn (measured charts; ignored when not recorded).
  void setStep(int step);
  int step() const { return step_; }
  const ChunkStep* shownStep() const { return chart_.findStep(step_); }

  // The plan page: the plan's chunks (zero 3), or the engine's message for a refused plan that
  // names a chunk field. hasChunks() says whether there is anything to show.
  void showAnalysis(const AnalysisPtr& analysis);
  bool hasChunks() const { return has_chunks_; }

  // The chunk row under a point of the widget, or -1; and a row's rectangle (tests, tooltips).
  int rowAt(const QPoint& point) const;
  QRect rowRect(int row) const;
  // Where a row's bar and a step's move track are drawn, at the current width.
  QRect barRect(int row) const;
  QRect trackRect(int row) const;

  static QColor tierColor(Tier tier);

  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 signals:
  void stepChanged(int step);

 protected:
  bool event(QEvent* event) override;
  void paintEvent(QPaintEvent* event) override;

 private:
  int headerHeight() const;
  int contentHeight() const;
  int barLeft() const;
  int barWidth() const;
  int trackLeft() const;

  ChunkChart chart_;
  int step_ = 0;
  bool has_chunks_ = false;
};

}  // namespace behemoth::ui
