// Interleaved 1F1B (Narayanan et al. 2021, Megatron-LM): each rank holds v model chunks, so a
// micro-batch visits every rank v times and the fill/drain shrinks by v. Work is issued in groups
// of pp micro-batches: forward unit k runs chunk (k / pp) % v of micro-batch (k / (pp v)) pp + k % pp,
// so a rank pushes pp micro-batches through chunk 0, then the same pp through chunk 1, and so on.
// Backward units walk the chunks the other way (v-1 first). Rank r warms up with
// (pp - r - 1) * 2 + (v - 1) * pp forwards: enough that the first backward of the last chunk can
// come back before it runs out of work; then one forward one backward; then the rest.
#include <algorithm>

#include "parallel/pipeline/pipeline_schedule.h"
#include "parallel/pipeline/schedule_communication.h"

namespace behemoth {
namespace {

PipelineAction unit(PipelineActionKind kind, int k, const PipelineShape& shape) {
  const int pp = shape.stages;
  const int v = shape.virtual_stages;
  const int group = (k / pp) % v;
  const int micro_batch = (k / (pp * v)) * pp + k % pp;
  const int chunk = kind == PipelineActionKind::forward ? group : v - 1 - group;
  return {kind, micro_batch, chunk};
}

}  // namespace

PipelineSchedulePlan interleavedSchedule(const PipelineShape& shape) {
  checkPipelineShape(PipelineSchedule::interleaved, shape);
  const int pp = shape.stages;
  const int v = shape.virtual_stages;
  const int units = shape.micro_batches * v;
  PipelineSchedulePlan plan;
  for (int rank = 0; rank < pp; ++rank) {
    const int warmup = std::min(units, (pp - rank - 1) * 2 + (v - 1) * pp);
    std::vector<PipelineAction> compute;
    int next_forward = 0;
    int next_backward = 0;
    for (; next_forward < warmup; ++next_forward) compute.push_back(unit(PipelineActionKind::forward, next_forward, shape));
    while (next_forward < units) {
      compute.push_back(unit(PipelineActionKind::forward, next_forward++, shape));
      compute.push_back(unit(PipelineActionKind::backward, next_backward++, shape));
    }
    while (next_backward < units) compute.push_back(unit(PipelineActionKind::backward, next_backward++, shape));
    plan.push_back(withCommunication(compute, rank, shape));
  }
  return plan;
}

}  // namespace behemoth
