// Pipeline schedules as plain data: for every pp rank, the ordered list of actions it runs in one
// optimizer step. One function builds each schedule; one executor (backend/pipeline/) runs any of
// them; `behemoth plan --schedule-json` prints them; the Studio draws them. No LibTorch.
//
// Conventions (docs/pipeline.md):
//   * micro-batches 0..m-1 and chunks 0..v-1 (v = 1 except interleaved); virtual stage
//     k = chunk * pp + rank (stage_layers.h). The first virtual stage embeds tokens, the last
//     computes the loss.
//   * Communication is explicit. recv_forward(m, c) precedes forward(m, c) unless (rank, c) is
//     the first virtual stage; send_forward(m, c) follows it unless it is the last. Likewise
//     recv_backward(m, c) precedes the backward (or backward_input) of (m, c) unless it is the
//     last virtual stage, and send_backward(m, c) follows it unless it is the first.
//   * Sends are asynchronous (the executor waits for them at the end of the step); receives
//     block. Every schedule built here is deadlock-free under those rules (checkSchedule proves
//     it by simulation).
//   * zero_bubble splits each backward into backward_input (activation gradients, what the
//     previous stage waits for) and backward_weight (weight gradients, deferred to fill bubbles),
//     as ZB-H1 (Qi et al. 2023): the same peak activation memory as 1F1B, about a third of its bubble.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "memory/training_layout.h"

namespace behemoth {

enum class PipelineActionKind {
  forward,
  backward,         // input and weight gradients together (every schedule but zero_bubble)
  backward_input,   // zero_bubble: activation gradients only
  backward_weight,  // zero_bubble: the deferred weight gradients of (m, c)
  send_forward,     // this (m, c)'s output activation to the next virtual stage
  recv_forward,     // this (m, c)'s input activation from the previous virtual stage
  send_backward,    // this (m, c)'s input gradient to the previous virtual stage
  recv_backward,    // this (m, c)'s output gradient from the next virtual stage
};

// "forward", "backward", "backward_input", "backward_weight", "send_forward", ... (JSON, traces).
std::string pipelineActionName(PipelineActionKind kind);
// Throws std::invalid_argument naming the text.
PipelineActionKind pipelineActionFromName(const std::string& name);
// forward / backward / backward_input / backward_weight.
bool isComputeAction(PipelineActionKind kind);

struct PipelineAction {
  PipelineActionKind kind = PipelineActionKind::forward;
  int micro_batch = 0;
  int chunk = 0;
  bool operator==(const PipelineAction& other) const {
    return kind == other.kind && micro_batch == other.micro_batch && chunk == other.chunk;
  }
};

struct PipelineShape {
  int stages = 1;          // pp
  int virtual_stages = 1;  // chunks per rank (interleaved only)
  int micro_batches = 1;   // per optimizer step per data-parallel rank
};

// One list per pp rank.
using PipelineSchedulePlan = std::vector<std::vector<PipelineAction>>;

// Each throws std::invalid_argument naming the project field when the shape cannot run the
// schedule: 1f1b, interleaved and zero_bubble need micro-batches >= stages ("train.micro_batch_size"
// / "data.global_batch_size"); interleaved needs micro-batches divisible by stages and
// virtual_stages >= 2 ("parallel.pp_virtual").
PipelineSchedulePlan gpipeSchedule(const PipelineShape& shape);
PipelineSchedulePlan oneFOneBSchedule(const PipelineShape& shape);
PipelineSchedulePlan interleavedSchedule(const PipelineShape& shape);
PipelineSchedulePlan zeroBubbleSchedule(const PipelineShape& shape);
// Dispatches on the schedule (PipelineSchedule from memory/training_layout.h).
PipelineSchedulePlan buildPipelineSchedule(PipelineSchedule schedule, const PipelineShape& shape);

// The same refusals as the builders, without building (project validation calls it before launch).
void checkPipelineShape(PipelineSchedule schedule, const PipelineShape& shape);

// Durations of one action on one rank, in seconds (the time model fills them; tests use units).
struct ActionCosts {
  double forward = 1.0;          // one micro-batch through one chunk
  double backward = 2.0;         // backward with weight gradients
  double backward_input = 1.0;   // zero_bubble's halves; backward_input + backward_weight = backward
  double backward_weight = 1.0;
  double transfer = 0.0;         // latency of one activation or gradient between neighbours
  // Chunks holding the embedding or the head can cost more: extra seconds per forward on the
  // first and last virtual stage (0 for a balanced job); their backward costs twice the extra
  // (backward_input and backward_weight once each), as every matmul's backward does.
  double first_stage_extra = 0.0;
  double last_stage_extra = 0.0;
};

// One action placed in time.
struct TimedAction {
  PipelineAction action;
  double start = 0.0;
  double end = 0.0;
};

struct PipelineTimeline {
  std::vector<std::vector<TimedAction>> ranks;  // per rank, in execution order (compute actions only)
  double makespan = 0.0;                        // the step's pipeline time, first start to last end
  std::vector<double> bubble_fraction;          // per rank: idle time / makespan
  // Peak number of micro-batches whose activations a rank holds at once (forward done, backward
  // (zero_bubble: backward_weight) not yet), per rank, counted over its chunks: each (micro-batch,
  // chunk) pair counts once, so with v chunks divide by v for whole-rank micro-batches (the unit
  // of memory_model.h's inFlightMicroBatches).
  std::vector<int> peak_in_flight;
};

// Runs the schedule against the costs: every rank executes its list in order, a receive waits for
// its send (the send's time plus costs.transfer), sends and receives take no time themselves.
// Throws std::logic_error naming the rank and action when the schedule deadlocks, sends something
// never received, misses or repeats a compute action, runs a backward before its forward, a
// backward_weight before its backward_input, or a compute action before the receive it needs.
PipelineTimeline simulatePipeline(const PipelineSchedulePlan& schedule, const PipelineShape& shape,
                                  const ActionCosts& costs = {});
// simulatePipeline's checks alone.
void checkSchedule(const PipelineSchedulePlan& schedule, const PipelineShape& shape);

// Idle fraction of a measured or simulated timeline: per rank, 1 - busy / (last end - first start
// over every rank).
std::vector<double> bubbleFractions(const std::vector<std::vector<TimedAction>>& ranks);

}  // namespace behemoth
