// What the schedule view draws, computed without painting: one row per pp rank with its compute
// actions as boxes in time and its bubble (idle share of the step), for the plan's simulated step
// (parallel/pipeline) and for a measured step of a traced run (backend/pipeline/step_trace.h).
// Tests read these rows; the widget only paints them.
#pragma once

#include <QString>

#include <optional>
#include <vector>

#include "backend/pipeline/step_trace.h"
#include "backend/project/project.h"
#include "memory/model_description.h"
#include "memory/time_model.h"
#include "memory/training_layout.h"
#include "parallel/pipeline/pipeline_schedule.h"

namespace behemoth::ui {

struct ScheduleBox {
  PipelineActionKind kind = PipelineActionKind::forward;
  int micro_batch = 0;
  int chunk = 0;
  double start = 0.0;  // from the step's first compute start, in the chart's unit
  double end = 0.0;
};

struct ScheduleRow {
  int stage = 0;                   // pp rank
  std::vector<ScheduleBox> boxes;  // compute actions in execution order
  double bubble = 0.0;             // idle fraction of the step
  QString bubble_text;             // "27.3% idle", written at the row's end
};

struct ScheduleChart {
  QString title;
  QString unit;                    // the time axis: "s", or the planned unit costs' name
  double span = 0.0;               // the time axis runs 0..span
  std::vector<ScheduleRow> rows;
  QString message;                 // why there is nothing to draw (rows empty)
  bool drawable() const { return !rows.empty(); }
};

// "GPipe", "1F1B", "interleaved", "zero-bubble" (display names of parallel.pp_schedule values).
QString scheduleDisplayName(const std::string& pp_schedule);
// "412.3 ms", "6.41 s".
QString durationText(double seconds);
// "27.3% idle".
QString bubbleText(double fraction);

// A simulated timeline as rows; `title` is kept and the unit named.
ScheduleChart chartFromTimeline(const PipelineTimeline& timeline, const QString& title, const QString& unit);

// The plan's step (the project resolved, as the analysis holds it): the engine's schedule builder
// and simulator with unit action costs (a forward 1, a backward 2). A project without a pipeline
// (parallel.pp 1) or whose shape the builder refuses gets a message (the engine's, for a refusal).
ScheduleChart plannedChart(const Project& resolved);

// The plan's step with the time model's action costs (parallel/pipeline/planned_timeline.h:
// plannedTimeline of the analysis' model, layout and device), in seconds. Falls back to unit
// costs when the device has no FLOP rate to time it with.
ScheduleChart plannedChart(const Project& resolved, const ModelDescription& model, const TrainingLayout& layout,
                           const DeviceSpec& device);

// The steps a trace holds, ascending.
std::vector<int> tracedSteps(const std::vector<StepTrace>& traces);
// The measured step `step` of the pipeline made of the ranks at (dp_rank, tp_rank): the compute
// actions on the shared clock from the first compute start, each stage's measured bubble
// (measuredBubble). A step that is not in the trace gets a message.
ScheduleChart measuredChart(const std::vector<StepTrace>& traces, int step, int dp_rank = 0, int tp_rank = 0);

}  // namespace behemoth::ui
