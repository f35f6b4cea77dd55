// GPipe (Huang et al. 2019): every micro-batch forward, then every backward (in reverse), so all
// m micro-batches' activations are alive at the peak. 1F1B (PipeDream-Flush, Narayanan et al.
// 2021): stage s runs pp - s - 1 warm-up forwards, then alternates one forward and one backward,
// so it never holds more than pp - s micro-batches; the bubble is the same as GPipe's.
#include <algorithm>

#include "parallel/pipeline/pipeline_schedule.h"
#include "parallel/pipeline/schedule_communication.h"

namespace behemoth {

PipelineSchedulePlan gpipeSchedule(const PipelineShape& shape) {
  checkPipelineShape(PipelineSchedule::gpipe, shape);
  PipelineSchedulePlan plan;
  for (int rank = 0; rank < shape.stages; ++rank) {
    std::vector<PipelineAction> compute;
    for (int m = 0; m < shape.micro_batches; ++m) compute.push_back({PipelineActionKind::forward, m, 0});
    for (int m = shape.micro_batches - 1; m >= 0; --m) compute.push_back({PipelineActionKind::backward, m, 0});
    plan.push_back(withCommunication(compute, rank, shape));
  }
  return plan;
}

PipelineSchedulePlan oneFOneBSchedule(const PipelineShape& shape) {
  checkPipelineShape(PipelineSchedule::one_f_one_b, shape);
  PipelineSchedulePlan plan;
  const int m = shape.micro_batches;
  for (int rank = 0; rank < shape.stages; ++rank) {
    const int warmup = std::min(shape.stages - rank - 1, m);
    std::vector<PipelineAction> compute;
    int next_forward = 0;
    int next_backward = 0;
    for (; next_forward < warmup; ++next_forward) compute.push_back({PipelineActionKind::forward, next_forward, 0});
    while (next_forward < m) {
      compute.push_back({PipelineActionKind::forward, next_forward++, 0});
      compute.push_back({PipelineActionKind::backward, next_backward++, 0});
    }
    while (next_backward < m) compute.push_back({PipelineActionKind::backward, next_backward++, 0});
    plan.push_back(withCommunication(compute, rank, shape));
  }
  return plan;
}

}  // namespace behemoth
