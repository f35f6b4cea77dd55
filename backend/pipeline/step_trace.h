// The measured timeline of a pipeline step (train.trace: true): when each action of the schedule
// started and ended on each rank. Written by the trainer, read by `behemoth trace OUT_DIR` and the
// Studio's schedule view. No LibTorch.
//
// File: OUT_DIR/trace/rank-NNNNN.jsonl, one JSON object per optimizer step:
//   {"step": 3, "rank": 1, "stage": 1, "pp": 4, "dp_rank": 0, "tp_rank": 0, "step_start": 12.5,
//    "actions": [{"kind": "forward", "micro_batch": 0, "chunk": 0, "start": 0.001, "end": 0.013}, ...]}
// `step` counts from 1 (as step events do); `step_start` is the rank's monotonic clock in seconds
// (one clock for every process of a node); action times are seconds after step_start. Every
// action of the schedule is listed, communication included (a receive's span is its wait).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "parallel/pipeline/pipeline_schedule.h"

namespace behemoth {

struct StepTrace {
  int step = 0;
  int rank = 0;     // global rank
  int stage = 0;    // pp rank
  int pp = 1;
  int dp_rank = 0;
  int tp_rank = 0;
  double step_start = 0.0;
  std::vector<TimedAction> actions;
};

std::filesystem::path traceDirectory(const std::filesystem::path& out_dir);
std::filesystem::path traceFile(const std::filesystem::path& out_dir, int rank);

std::string stepTraceToJsonLine(const StepTrace& trace);  // no trailing newline
// Throws std::invalid_argument naming `source` (file:line) when the line is not a step trace.
StepTrace stepTraceFromJsonLine(const std::string& line, const std::string& source);
// Every rank's traces under OUT_DIR/trace, ordered by (step, rank). Throws std::invalid_argument
// naming the folder when there is none, or the file and line that cannot be read.
std::vector<StepTrace> readStepTraces(const std::filesystem::path& out_dir);

// The measured bubble of one step of one pipeline (the ranks sharing dp_rank and tp_rank): per
// stage, 1 - compute busy time / the pipeline's span (first compute start to last compute end over
// its stages, on the shared clock). Communication waits count as idle. Throws
// std::invalid_argument when the traces are not one step of one pipeline or a stage is missing.
std::vector<double> measuredBubble(const std::vector<StepTrace>& one_pipeline_step);

}  // namespace behemoth
