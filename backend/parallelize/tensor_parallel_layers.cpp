#include "backend/parallelize/tensor_parallel_layers.h"

#include <ATen/ATen.h>

#include "parallel/autograd_collectives.h"

namespace behemoth {

int SharedColumnInput::join(ColumnParallelLinear* member) {
  members_.push_back(member);
  return static_cast<int>(members_.size()) - 1;
}

void SharedColumnInput::run(const at::Tensor& prepared, const TensorParallelContext& tp) {
  std::vector<at::Tensor> weights;
  std::vector<at::Tensor> biases;
  for (const ColumnParallelLinear* member : members_) {
    weights.push_back(member->weight);
    biases.push_back(member->bias);
  }
  waiting_ = columnParallelLinears(prepared, weights, biases, tp);
  input_ = prepared.unsafeGetTensorImpl();
}

at::Tensor SharedColumnInput::take(const at::Tensor& prepared, int index) {
  if (input_ == nullptr || input_ != prepared.unsafeGetTensorImpl()) return {};
  at::Tensor output = std::move(waiting_[static_cast<std::size_t>(index)]);
  waiting_[static_cast<std::size_t>(index)] = at::Tensor();
  bool all_taken = true;
  for (const at::Tensor& pending : waiting_) all_taken = all_taken && !pending.defined();
  if (all_taken) input_ = nullptr;
  return output;
}

ColumnParallelLinear::ColumnParallelLinear(at::Tensor weight_shard, at::Tensor bias_shard, TensorParallelContext tp,
                                           bool gather_output, std::shared_ptr<SharedColumnInput> shared_input)
    : tp_(tp), gather_output_(gather_output), shared_input_(std::move(shared_input)) {
  weight = register_parameter("weight", std::move(weight_shard));
  if (bias_shard.defined()) bias = register_parameter("bias", std::move(bias_shard));
  if (shared_input_) shared_index_ = shared_input_->join(this);
}

at::Tensor ColumnParallelLinear::prepareInput(const at::Tensor& input) {
  const at::Tensor prepared = columnParallelInput(input, tp_);
  // Only SP needs the shared call: without it autograd keeps the replicated input once anyway.
  if (shared_input_ && tp_.sequence_parallel) shared_input_->run(prepared, tp_);
  return prepared;
}

at::Tensor ColumnParallelLinear::forwardPrepared(const at::Tensor& prepared) {
  if (shared_input_ && tp_.sequence_parallel) {
    at::Tensor output = shared_input_->take(prepared, shared_index_);
    if (output.defined()) {
      return gather_output_ ? gatherFromGroup(output, *tp_.group, output.dim() - 1) : output;
    }
  }
  return columnParallelLinear(prepared, weight, bias, tp_, gather_output_);
}

RowParallelLinear::RowParallelLinear(at::Tensor weight_shard, at::Tensor full_bias, TensorParallelContext tp)
    : tp_(tp) {
  weight = register_parameter("weight", std::move(weight_shard));
  if (full_bias.defined()) bias = register_parameter("bias", std::move(full_bias));
}

at::Tensor RowParallelLinear::forward(const at::Tensor& input) { return rowParallelLinear(input, weight, bias, tp_); }

VocabParallelEmbedding::VocabParallelEmbedding(at::Tensor weight_shard, std::int64_t first_row,
                                               TensorParallelContext tp)
    : Embedding(std::move(weight_shard)), first_row_(first_row), tp_(tp) {}

at::Tensor VocabParallelEmbedding::forward(const at::Tensor& indices) {
  return vocabParallelEmbedding(indices, weight, first_row_, tp_);
}

}  // namespace behemoth
