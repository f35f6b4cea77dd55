// The pipeline schedule drawn as one row per pp rank: each compute action a coloured box over time
// (forward, backward, backward_input, backward_weight), idle time as the row's bare background,
// the rank's bubble at the row's end, a title and a legend. Shows one or more charts stacked (the
// plan's simulated step; a traced run's measured step above it). Paints ScheduleChart rows
// (ui/schedule_model.h); computes nothing itself.
#pragma once

#include <QWidget>

#include <vector>

#include "ui/estimate_service.h"
#include "ui/schedule_model.h"

namespace behemoth::ui {

class ScheduleView : public QWidget {
  Q_OBJECT

 public:
  explicit ScheduleView(QWidget* parent = nullptr);

  void setCharts(std::vector<ScheduleChart> charts);
  const std::vector<ScheduleChart>& charts() const { return charts_; }
  // The plan page: the plan's simulated step, or the engine's message when the plan is invalid.
  void showAnalysis(const AnalysisPtr& analysis);
  // True when the shown project has a pipeline (parallel.pp > 1) or its pipeline is refused.
  bool hasPipeline() const { return has_pipeline_; }

  // The colour of an action's box (chunks after the first drawn lighter).
  static QColor actionColor(PipelineActionKind kind, int chunk = 0);

  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 protected:
  void paintEvent(QPaintEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;

 private:
  int chartHeight(const ScheduleChart& chart) const;
  int contentHeight() const;
  int legendLines() const;  // at the current width

  std::vector<ScheduleChart> charts_;
  bool has_pipeline_ = false;
  int legend_lines_ = 1;  // when the size hint was last given
};

}  // namespace behemoth::ui
