#include "parallel/pipeline/schedule_communication.h"

namespace behemoth {

std::vector<PipelineAction> withCommunication(const std::vector<PipelineAction>& compute, int rank, const PipelineShape& shape) {
  const int last_virtual = shape.stages * shape.virtual_stages - 1;
  const auto virtualStage = [&](int chunk) { return chunk * shape.stages + rank; };
  std::vector<PipelineAction> actions;
  for (const PipelineAction& a : compute) {
    const int k = virtualStage(a.chunk);
    switch (a.kind) {
      case PipelineActionKind::forward:
        if (k > 0) actions.push_back({PipelineActionKind::recv_forward, a.micro_batch, a.chunk});
        actions.push_back(a);
        if (k < last_virtual) actions.push_back({PipelineActionKind::send_forward, a.micro_batch, a.chunk});
        break;
      case PipelineActionKind::backward:
      case PipelineActionKind::backward_input:
        if (k < last_virtual) actions.push_back({PipelineActionKind::recv_backward, a.micro_batch, a.chunk});
        actions.push_back(a);
        if (k > 0) actions.push_back({PipelineActionKind::send_backward, a.micro_batch, a.chunk});
        break;
      default:
        actions.push_back(a);
        break;
    }
  }
  return actions;
}

}  // namespace behemoth
