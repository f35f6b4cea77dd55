// Names of the actions and the shape checks every schedule builder shares.
#include <array>
#include <stdexcept>
#include <utility>

#include "parallel/pipeline/pipeline_schedule.h"

namespace behemoth {
namespace {

constexpr std::array<std::pair<PipelineActionKind, const char*>, 8> kActionNames = {{
    {PipelineActionKind::forward, "forward"},
    {PipelineActionKind::backward, "backward"},
    {PipelineActionKind::backward_input, "backward_input"},
    {PipelineActionKind::backward_weight, "backward_weight"},
    {PipelineActionKind::send_forward, "send_forward"},
    {PipelineActionKind::recv_forward, "recv_forward"},
    {PipelineActionKind::send_backward, "send_backward"},
    {PipelineActionKind::recv_backward, "recv_backward"},
}};

std::string str(int value) { return std::to_string(value); }

}  // namespace

std::string pipelineActionName(PipelineActionKind kind) {
  for (const auto& [k, name] : kActionNames) {
    if (k == kind) return name;
  }
  return "unknown";
}

PipelineActionKind pipelineActionFromName(const std::string& name) {
  for (const auto& [kind, text] : kActionNames) {
    if (name == text) return kind;
  }
  throw std::invalid_argument("unknown pipeline action '" + name + "'");
}

bool isComputeAction(PipelineActionKind kind) {
  return kind == PipelineActionKind::forward || kind == PipelineActionKind::backward ||
         kind == PipelineActionKind::backward_input || kind == PipelineActionKind::backward_weight;
}

void checkPipelineShape(PipelineSchedule schedule, const PipelineShape& shape) {
  const int p = shape.stages;
  const int m = shape.micro_batches;
  if (p < 1) throw std::invalid_argument("parallel.pp: must be >= 1, got " + str(p));
  if (m < 1) throw std::invalid_argument("train.micro_batch_size: a step needs at least one micro-batch");
  if (schedule == PipelineSchedule::interleaved) {
    if (shape.virtual_stages < 2) {
      throw std::invalid_argument("parallel.pp_virtual: the interleaved schedule needs at least 2 model chunks per rank, got " +
                                  str(shape.virtual_stages));
    }
  } else if (shape.virtual_stages != 1) {
    throw std::invalid_argument("parallel.pp_virtual: " + str(shape.virtual_stages) + " model chunks per rank need parallel.pp_schedule \"interleaved\"");
  }
  if (p == 1 || schedule == PipelineSchedule::gpipe) return;
  const std::string name = pipelineScheduleName(schedule);
  if (m < p) {
    throw std::invalid_argument("train.micro_batch_size: " + str(m) + " micro-batches per step cannot fill the " + str(p) +
                                " pipeline stages of the " + name +
                                " schedule; it needs at least parallel.pp micro-batches (lower train.micro_batch_size "
                                "or raise data.global_batch_size)");
  }
  if (schedule == PipelineSchedule::interleaved && m % p != 0) {
    throw std::invalid_argument("train.micro_batch_size: the interleaved schedule needs the micro-batches per step (" +
                                str(m) + ") to be a multiple of parallel.pp (" + str(p) + ")");
  }
}

}  // namespace behemoth
