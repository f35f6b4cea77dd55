#include "backend/parallelize/tensor_parallel_layers.h"

#include <ATen/ATen.h>

namespace behemoth {

ColumnParallelLinear::ColumnParallelLinear(at::Tensor weight_shard, at::Tensor bias_shard, TensorParallelContext tp,
                                           bool gather_output)
    : tp_(tp), gather_output_(gather_output) {
  weight = register_parameter("weight", std::move(weight_shard));
  if (bias_shard.defined()) bias = register_parameter("bias", std::move(bias_shard));
}

at::Tensor ColumnParallelLinear::prepareInput(const at::Tensor& input) { return columnParallelInput(input, tp_); }

at::Tensor ColumnParallelLinear::forwardPrepared(const at::Tensor& prepared) {
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
