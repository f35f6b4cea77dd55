// `behemoth trace OUT_DIR`: the measured pipeline timeline as text (docs/pipeline.md, "Measured
// timeline"): per step and per pipeline, each stage's bubble, busy time and a character timeline,
// next to the closed form of the schedule the trace shows.
#pragma once

#include <string>
#include <vector>

#include "backend/pipeline/step_trace.h"

namespace behemoth {

// What a pipeline's traces say about its schedule: zero_bubble when backward_input appears,
// interleaved with v = highest chunk + 1 when any chunk > 0, else gpipe when the first stage ran
// every forward before its first backward and had more micro-batches than stages (with fewer,
// 1f1b looks the same), else 1f1b. micro_batches: the distinct micro-batches stage 0 ran forward.
struct TracedSchedule {
  std::string name;  // "gpipe", "1f1b", "gpipe/1f1b", "interleaved", "zero_bubble"
  PipelineSchedule schedule = PipelineSchedule::one_f_one_b;
  PipelineShape shape;
};
TracedSchedule tracedSchedule(const std::vector<StepTrace>& one_pipeline_step);

// One row of `width` characters over [span_start, span_end) on the shared clock: each bucket shows
// what the stage spent most of it on: F forward, B backward, b backward_input, W backward_weight,
// . idle (waiting for communication included).
std::string timelineRow(const StepTrace& stage, double span_start, double span_end, int width);

// The report for the last `last_steps` steps (<= 0: every step), one block per step and pipeline.
std::string formatTraceReport(const std::vector<StepTrace>& traces, int last_steps, int width);

}  // namespace behemoth
