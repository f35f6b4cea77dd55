// Runs one rank's pipeline schedule (parallel/pipeline/pipeline_schedule.h) for one optimizer
// step: the forwards and backwards of its model chunks on every micro-batch, and the activations
// and gradients sent to and received from the neighbouring stages over the pp group.
//
// Boundary tensors have one shape known from the plan ([micro-batch, local tokens, d_model] in the
// working dtype; under sequence parallelism the local tokens are this rank's sequence shard), so
// nothing is negotiated per micro-batch. Sends are asynchronous and waited for at the end of the
// step; receives block, with the group's timeout, and a failure names the rank, the stage and the
// action it was waiting on. Gradients of the parameters accumulate in .grad as the updater expects;
// the executor never reduces anything itself.
#pragma once

#include <ATen/Tensor.h>

#include <chrono>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "backend/model/dropout.h"
#include "parallel/pipeline/pipeline_schedule.h"

namespace behemoth {

class Group;
class LanguageModel;

// The inputs one micro-batch needs on this rank (tokens on the first stage, targets on the last).
struct MicroBatchInput {
  at::Tensor tokens;   // [micro, T] int64
  at::Tensor targets;  // [micro, T] int64
  DropoutContext dropout;
};

struct PipelineStepResult {
  double loss_sum = 0.0;  // sum of the micro-batches' mean losses (last stage only; 0 elsewhere)
  std::vector<TimedAction> timeline;  // every action, seconds after the step started
  double step_start = 0.0;            // monotonic seconds
  // With the counting allocator installed (train.measure_memory): the tensor bytes one
  // micro-batch's forward of this rank left alive for its backward (the received input included),
  // for the first micro-batch; and the most such bytes alive at once over the step (the sum over
  // micro-batches whose forward ran and whose backward has not finished).
  std::int64_t micro_batch_activation_bytes = 0;
  std::int64_t peak_activation_bytes = 0;
};

class PipelineExecutor {
 public:
  // `boundary_shape`: [micro, local tokens, d_model]; `boundary_dtype`: the working dtype.
  PipelineExecutor(LanguageModel& model, Group& pp, PipelineShape shape, std::vector<PipelineAction> actions,
                   std::vector<std::int64_t> boundary_shape, at::ScalarType boundary_dtype);

  // One training step. `loss_multiplier` scales each micro-batch's loss before backward (the
  // loss scale over the number of micro-batches); `input(m)` gives micro-batch m.
  PipelineStepResult runStep(const std::function<MicroBatchInput(int)>& input, double loss_multiplier);
  // Forward only, without autograd, over `batches` inputs (evaluation): the last stage's sum of losses.
  double evaluate(const std::function<MicroBatchInput(int)>& input, int batches, std::vector<std::int64_t> batch_shape);

 private:
  struct Slot;  // one (micro-batch, chunk)'s tensors between its actions
  int virtualStage(int chunk) const { return chunk * shape_.stages + rank_; }
  bool firstVirtual(int chunk) const { return virtualStage(chunk) == 0; }
  bool lastVirtual(int chunk) const { return virtualStage(chunk) == shape_.stages * shape_.virtual_stages - 1; }
  int nextRank() const { return (rank_ + 1) % shape_.stages; }
  int previousRank() const { return (rank_ + shape_.stages - 1) % shape_.stages; }
  at::Tensor runChunk(int chunk, const at::Tensor& input, const MicroBatchInput& data);
  std::string describe(const PipelineAction& action) const;
  int tag(const PipelineAction& action) const;

  LanguageModel& model_;
  Group& pp_;
  int rank_ = 0;
  PipelineShape shape_;
  std::vector<PipelineAction> actions_;
  std::vector<std::int64_t> boundary_shape_;
  at::ScalarType boundary_dtype_;
};

}  // namespace behemoth
