#include "ui/schedule_model.h"

#include "parallel/pipeline/planned_timeline.h"

#include <QCoreApplication>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>

namespace behemoth::ui {
namespace {

QString tr(const char* text) { return QCoreApplication::translate("ScheduleModel", text); }

double meanOf(const std::vector<double>& values) {
  if (values.empty()) return 0.0;
  double sum = 0.0;
  for (double v : values) sum += v;
  return sum / double(values.size());
}

int microBatchesOf(const std::vector<ScheduleRow>& rows) {
  std::set<int> seen;
  for (const ScheduleRow& row : rows) {
    for (const ScheduleBox& box : row.boxes) seen.insert(box.micro_batch);
  }
  return static_cast<int>(seen.size());
}

}  // namespace

QString scheduleDisplayName(const std::string& pp_schedule) {
  if (pp_schedule == "gpipe") return QStringLiteral("GPipe");
  if (pp_schedule == "1f1b") return QStringLiteral("1F1B");
  if (pp_schedule == "interleaved") return tr("interleaved 1F1B");
  if (pp_schedule == "zero_bubble") return tr("zero-bubble (ZB-H1)");
  return QString::fromStdString(pp_schedule);
}

QString durationText(double seconds) {
  if (seconds >= 1.0) return QStringLiteral("%1 s").arg(seconds, 0, 'f', 2);
  return QStringLiteral("%1 ms").arg(1000.0 * seconds, 0, 'f', 1);
}

QString bubbleText(double fraction) { return tr("%1% idle").arg(100.0 * fraction, 0, 'f', 1); }

ScheduleChart chartFromTimeline(const PipelineTimeline& timeline, const QString& title, const QString& unit) {
  ScheduleChart chart;
  chart.title = title;
  chart.unit = unit;
  double first = std::numeric_limits<double>::infinity();
  for (const auto& rank : timeline.ranks) {
    for (const TimedAction& timed : rank) first = std::min(first, timed.start);
  }
  if (!std::isfinite(first)) first = 0.0;
  for (std::size_t r = 0; r < timeline.ranks.size(); ++r) {
    ScheduleRow row;
    row.stage = static_cast<int>(r);
    for (const TimedAction& timed : timeline.ranks[r]) {
      if (!isComputeAction(timed.action.kind)) continue;
      row.boxes.push_back({timed.action.kind, timed.action.micro_batch, timed.action.chunk, timed.start - first,
                           timed.end - first});
      chart.span = std::max(chart.span, timed.end - first);
    }
    row.bubble = r < timeline.bubble_fraction.size() ? timeline.bubble_fraction[r] : 0.0;
    row.bubble_text = bubbleText(row.bubble);
    chart.rows.push_back(std::move(row));
  }
  return chart;
}

ScheduleChart plannedChart(const Project& resolved) {
  const Plan& plan = resolved.plan;
  ScheduleChart chart;
  if (plan.pp <= 1) {
    chart.message = tr("No pipeline: parallel.pp is 1 (set it on the Mesh view).");
    return chart;
  }
  PipelineShape shape;
  shape.stages = plan.pp;
  shape.virtual_stages = plan.pp_virtual;
  shape.micro_batches = resolved.microBatches();
  PipelineTimeline timeline;
  try {
    const PipelineSchedule schedule = pipelineScheduleFromName(plan.pp_schedule);
    timeline = simulatePipeline(buildPipelineSchedule(schedule, shape), shape, ActionCosts{});
  } catch (const std::exception& error) {
    chart.message = QString::fromStdString(error.what());
    return chart;
  }
  const QString title = tr("Planned: %1 · pp %2 · v %3 · %4 micro-batches · simulated bubble %5%")
                            .arg(scheduleDisplayName(plan.pp_schedule))
                            .arg(plan.pp)
                            .arg(plan.pp_virtual)
                            .arg(shape.micro_batches)
                            .arg(100.0 * meanOf(timeline.bubble_fraction), 0, 'f', 1);
  return chartFromTimeline(timeline, title, tr("forward passes (unit costs: forward 1, backward 2)"));
}

ScheduleChart plannedChart(const Project& resolved, const ModelDescription& model, const TrainingLayout& layout,
                           const DeviceSpec& device) {
  const Plan& plan = resolved.plan;
  if (plan.pp <= 1) return plannedChart(resolved);
  PipelineTimeline timeline;
  try {
    timeline = plannedTimeline(model, layout, device, plan.order);
  } catch (const std::invalid_argument&) {
    return plannedChart(resolved);  // no rate to time the actions with (or the shape's refusal, said there)
  }
  const QString title = tr("Planned: %1 · pp %2 · v %3 · %4 micro-batches · %5 · simulated bubble %6%")
                            .arg(scheduleDisplayName(plan.pp_schedule))
                            .arg(plan.pp)
                            .arg(plan.pp_virtual)
                            .arg(layout.micro_batches)
                            .arg(durationText(timeline.makespan))
                            .arg(100.0 * meanOf(timeline.bubble_fraction), 0, 'f', 1);
  return chartFromTimeline(timeline, title, QStringLiteral("s"));
}

std::vector<int> tracedSteps(const std::vector<StepTrace>& traces) {
  std::set<int> steps;
  for (const StepTrace& trace : traces) steps.insert(trace.step);
  return {steps.begin(), steps.end()};
}

ScheduleChart measuredChart(const std::vector<StepTrace>& traces, int step, int dp_rank, int tp_rank) {
  ScheduleChart chart;
  chart.unit = QStringLiteral("s");
  std::vector<StepTrace> pipeline;
  for (const StepTrace& trace : traces) {
    if (trace.step == step && trace.dp_rank == dp_rank && trace.tp_rank == tp_rank) pipeline.push_back(trace);
  }
  if (pipeline.empty()) {
    chart.message = tr("The trace has no step %1 for the pipeline at dp rank %2, tp rank %3.").arg(step).arg(dp_rank).arg(tp_rank);
    return chart;
  }
  std::sort(pipeline.begin(), pipeline.end(), [](const StepTrace& a, const StepTrace& b) { return a.stage < b.stage; });
  std::vector<double> bubble;
  try {
    bubble = measuredBubble(pipeline);
  } catch (const std::exception& error) {
    chart.message = QString::fromStdString(error.what());
    return chart;
  }
  // One clock for every rank: the pipeline's first compute start is time 0.
  double first = std::numeric_limits<double>::infinity();
  for (const StepTrace& trace : pipeline) {
    for (const TimedAction& timed : trace.actions) {
      if (isComputeAction(timed.action.kind)) first = std::min(first, trace.step_start + timed.start);
    }
  }
  if (!std::isfinite(first)) first = 0.0;
  for (std::size_t s = 0; s < pipeline.size(); ++s) {
    const StepTrace& trace = pipeline[s];
    ScheduleRow row;
    row.stage = trace.stage;
    for (const TimedAction& timed : trace.actions) {
      if (!isComputeAction(timed.action.kind)) continue;
      const double start = trace.step_start + timed.start - first;
      const double end = trace.step_start + timed.end - first;
      row.boxes.push_back({timed.action.kind, timed.action.micro_batch, timed.action.chunk, start, end});
      chart.span = std::max(chart.span, end);
    }
    row.bubble = s < bubble.size() ? bubble[s] : 0.0;
    row.bubble_text = bubbleText(row.bubble);
    chart.rows.push_back(std::move(row));
  }
  chart.title = tr("Measured: step %1 · pp %2 · %3 micro-batches · %4 · measured bubble %5%")
                    .arg(step)
                    .arg(pipeline.front().pp)
                    .arg(microBatchesOf(chart.rows))
                    .arg(durationText(chart.span))
                    .arg(100.0 * meanOf(bubble), 0, 'f', 1);
  return chart;
}

}  // namespace behemoth::ui
