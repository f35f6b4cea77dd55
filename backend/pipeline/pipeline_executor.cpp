#include "backend/pipeline/pipeline_executor.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>

#include "backend/metrics/tensor_memory.h"
#include "backend/model/language_model.h"
#include "parallel/activity.h"
#include "parallel/deferred_weight_grad.h"
#include "parallel/group.h"

namespace behemoth {
namespace {

using Clock = std::chrono::steady_clock;

double monotonicSeconds(Clock::time_point t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

}  // namespace

// What a (micro-batch, chunk) carries from one action to the next; released as soon as it is used.
struct PipelineExecutor::Slot {
  at::Tensor input;        // received activation (requires grad), or empty on the first virtual stage
  at::Tensor output;       // the chunk's output activation, or the scaled loss on the last virtual stage
  at::Tensor output_grad;  // received gradient of `output`
  at::Tensor input_grad;   // gradient of `input`, to be sent back
  WeightGradientQueue weight_gradients;  // zero_bubble: what backward_weight will compute
  std::int64_t live_before = 0;          // measuring: live bytes before its input arrived
  std::int64_t activation_bytes = 0;     // measuring: what its forward kept alive
  std::int64_t live_before_backward = 0;  // measuring: live bytes as its backward began
  std::int64_t stash_bytes = 0;          // measuring, zero_bubble: what backward_input left for backward_weight
};

PipelineExecutor::PipelineExecutor(LanguageModel& model, Group& pp, PipelineShape shape, std::vector<PipelineAction> actions,
                                   std::vector<std::int64_t> boundary_shape, at::ScalarType boundary_dtype)
    : model_(model),
      pp_(pp),
      rank_(pp.rank()),
      shape_(shape),
      actions_(std::move(actions)),
      boundary_shape_(std::move(boundary_shape)),
      boundary_dtype_(boundary_dtype) {
  if (static_cast<int>(model.chunks().size()) != shape_.virtual_stages) {
    throw std::logic_error("pipeline executor: the model holds " + std::to_string(model.chunks().size()) +
                           " chunks but the schedule has " + std::to_string(shape_.virtual_stages));
  }
}

std::string PipelineExecutor::describe(const PipelineAction& action) const {
  const int k = virtualStage(action.chunk);
  const std::string which = "micro-batch " + std::to_string(action.micro_batch) + ", chunk " + std::to_string(action.chunk);
  const std::string stage = "pipeline stage " + std::to_string(rank_);
  switch (action.kind) {
    case PipelineActionKind::recv_forward:
      return stage + " receiving the activation of " + which + " from stage " + std::to_string(previousRank()) +
             " (virtual stage " + std::to_string(k - 1) + ")";
    case PipelineActionKind::send_forward:
      return stage + " sending the activation of " + which + " to stage " + std::to_string(nextRank());
    case PipelineActionKind::recv_backward:
      return stage + " receiving the gradient of " + which + " from stage " + std::to_string(nextRank()) +
             " (virtual stage " + std::to_string(k + 1) + ")";
    case PipelineActionKind::send_backward:
      return stage + " sending the gradient of " + which + " to stage " + std::to_string(previousRank());
    default:
      return stage + " " + pipelineActionName(action.kind) + " of " + which;
  }
}

int PipelineExecutor::tag(const PipelineAction& action) const {
  // Unique per direction, micro-batch and the receiving virtual stage within a step.
  const bool forward = action.kind == PipelineActionKind::send_forward || action.kind == PipelineActionKind::recv_forward;
  const int k = virtualStage(action.chunk);
  const bool sending = action.kind == PipelineActionKind::send_forward || action.kind == PipelineActionKind::send_backward;
  const int receiver = forward ? (sending ? k + 1 : k) : (sending ? k - 1 : k);
  const int stages = shape_.stages * shape_.virtual_stages;
  return ((forward ? 0 : 1) * stages + receiver) * shape_.micro_batches + action.micro_batch;
}

at::Tensor PipelineExecutor::runChunk(int chunk, const at::Tensor& input, const MicroBatchInput& data) {
  model_.setDropoutContext(data.dropout);
  const BlockRange& blocks = model_.chunks().at(static_cast<std::size_t>(chunk));
  at::Tensor hidden = firstVirtual(chunk) ? model_.embed(data.tokens) : input;
  for (int index = blocks.first; index < blocks.end(); ++index) hidden = model_.block(index, hidden);
  if (lastVirtual(chunk)) return model_.headLoss(hidden, data.targets);
  return hidden;
}

PipelineStepResult PipelineExecutor::runStep(const std::function<MicroBatchInput(int)>& input, double loss_multiplier) {
  PipelineStepResult result;
  const auto step_start = Clock::now();
  result.step_start = monotonicSeconds(step_start);
  std::map<std::pair<int, int>, Slot> slots;
  // An activation send is finished by the time its gradient comes back (the next stage received
  // it before computing that gradient): waiting for it before the backward frees the activation
  // then. Gradient sends are waited for at the end of the step.
  std::map<std::pair<int, int>, PendingWork> activation_sends;
  std::vector<PendingWork> sends;
  const auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - step_start).count(); };
  const bool measuring = tensor_memory::countingAllocatorInstalled();
  std::int64_t in_flight_bytes = 0;
  bool first_forward = true;
  for (const PipelineAction& action : actions_) {
    Slot& slot = slots[{action.micro_batch, action.chunk}];
    const std::string what = describe(action);
    ActivityScope activity(what.c_str());
    const double started = elapsed();
    const bool starts_forward = action.kind == PipelineActionKind::recv_forward ||
                                (action.kind == PipelineActionKind::forward && firstVirtual(action.chunk));
    if (measuring && starts_forward) slot.live_before = tensor_memory::liveBytes();
    switch (action.kind) {
      case PipelineActionKind::recv_forward: {
        slot.input = at::empty(boundary_shape_, at::TensorOptions().dtype(boundary_dtype_));
        pp_.recvAsync(slot.input, previousRank(), tag(action), what).wait();
        slot.input.requires_grad_(true);
        break;
      }
      case PipelineActionKind::forward: {
        const MicroBatchInput data = input(action.micro_batch);
        at::Tensor out = runChunk(action.chunk, slot.input, data);
        if (lastVirtual(action.chunk)) {
          result.loss_sum += out.item<double>();
          out = out * loss_multiplier;
        }
        slot.output = out;
        if (measuring) {
          slot.activation_bytes = tensor_memory::liveBytes() - slot.live_before;
          if (first_forward) result.micro_batch_activation_bytes = slot.activation_bytes;
          first_forward = false;
          in_flight_bytes += slot.activation_bytes;
          result.peak_activation_bytes = std::max(result.peak_activation_bytes, in_flight_bytes);
        }
        break;
      }
      case PipelineActionKind::send_forward:
        activation_sends.emplace(std::make_pair(action.micro_batch, action.chunk),
                                 pp_.sendAsync(slot.output.detach(), nextRank(), tag(action), what));
        break;
      case PipelineActionKind::recv_backward: {
        slot.output_grad = at::empty(boundary_shape_, at::TensorOptions().dtype(boundary_dtype_));
        pp_.recvAsync(slot.output_grad, nextRank(), tag(action), what).wait();
        break;
      }
      case PipelineActionKind::backward:
      case PipelineActionKind::backward_input: {
        if (measuring) slot.live_before_backward = tensor_memory::liveBytes();
        if (const auto sent = activation_sends.find({action.micro_batch, action.chunk}); sent != activation_sends.end()) {
          sent->second.wait();
          activation_sends.erase(sent);
        }
        std::optional<DeferWeightGradients> defer;
        if (action.kind == PipelineActionKind::backward_input) defer.emplace(slot.weight_gradients);
        if (lastVirtual(action.chunk)) {
          torch::autograd::backward({slot.output});
        } else {
          torch::autograd::backward({slot.output}, {slot.output_grad});
        }
        const auto bytesOf = [](const at::Tensor& t) {
          return t.defined() ? t.numel() * static_cast<std::int64_t>(t.element_size()) : std::int64_t{0};
        };
        const std::int64_t received_grad_bytes = bytesOf(slot.output_grad);
        if (!firstVirtual(action.chunk)) slot.input_grad = slot.input.grad();
        slot.output = at::Tensor();
        slot.output_grad = at::Tensor();
        slot.input = at::Tensor();
        if (measuring) {
          if (action.kind == PipelineActionKind::backward) {
            in_flight_bytes -= slot.activation_bytes;
          } else {
            // zero_bubble: the queued weight gradients still hold the linear layers' inputs and
            // output gradients. The stash is what is alive now beyond what was alive before this
            // micro-batch's forward began, less the input gradient waiting to be sent.
            const std::int64_t others = slot.live_before_backward - slot.activation_bytes - received_grad_bytes;
            slot.stash_bytes = std::max<std::int64_t>(0, tensor_memory::liveBytes() - others - bytesOf(slot.input_grad));
            in_flight_bytes -= slot.activation_bytes - slot.stash_bytes;
          }
        }
        break;
      }
      case PipelineActionKind::send_backward:
        if (!slot.input_grad.defined()) throw std::logic_error(what + ": no gradient reached the stage's input");
        sends.push_back(pp_.sendAsync(slot.input_grad, previousRank(), tag(action), what));
        slot.input_grad = at::Tensor();
        break;
      case PipelineActionKind::backward_weight:
        slot.weight_gradients.runAll();
        in_flight_bytes -= slot.stash_bytes;
        break;
    }
    const double ended = elapsed();
    result.timeline.push_back({action, started, ended});
  }
  for (auto& [key, send] : activation_sends) send.wait();
  for (PendingWork& send : sends) send.wait();
  return result;
}

double PipelineExecutor::evaluate(const std::function<MicroBatchInput(int)>& input, int batches,
                                  std::vector<std::int64_t> batch_shape) {
  at::NoGradGuard no_grad;
  double loss_sum = 0.0;
  std::vector<PendingWork> sends;
  for (int b = 0; b < batches; ++b) {
    const MicroBatchInput data = input(b);
    for (int chunk = 0; chunk < shape_.virtual_stages; ++chunk) {
      const PipelineAction receive{PipelineActionKind::recv_forward, b, chunk};
      at::Tensor hidden;
      if (!firstVirtual(chunk)) {
        hidden = at::empty(batch_shape, at::TensorOptions().dtype(boundary_dtype_));
        const std::string what = "evaluation: " + describe(receive);
        pp_.recvAsync(hidden, previousRank(), tag(receive), what).wait();
      }
      at::Tensor out = runChunk(chunk, hidden, data);
      if (lastVirtual(chunk)) {
        loss_sum += out.item<double>();
      } else {
        const PipelineAction send{PipelineActionKind::send_forward, b, chunk};
        sends.push_back(pp_.sendAsync(out, nextRank(), tag(send), "evaluation: " + describe(send)));
      }
    }
  }
  for (PendingWork& send : sends) send.wait();
  return loss_sum;
}

}  // namespace behemoth
