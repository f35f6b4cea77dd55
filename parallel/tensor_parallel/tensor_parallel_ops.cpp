#include "parallel/tensor_parallel/tensor_parallel_ops.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <limits>
#include <stdexcept>
#include <string>

#include "parallel/autograd_collectives.h"
#include "parallel/deferred_weight_grad.h"

namespace behemoth {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

Group& groupOf(const TensorParallelContext& tp) {
  if (tp.group == nullptr) throw std::logic_error("tensor-parallel layer used without a tp group");
  return *tp.group;
}

constexpr int64_t kSequenceDim = 1;

// Megatron-SP column-parallel matmuls of one sequence-sharded input: forward all-gathers the
// shard and multiplies the full sequence by each weight shard, but saves only the shard (1/tp of
// the tokens). Backward all-gathers it again for the weight gradients and reduce-scatters the
// input gradient, summed over the weights first so one collective serves them all.
struct SequenceParallelColumnMatmul : torch::autograd::Function<SequenceParallelColumnMatmul> {
  // `biases` holds the defined biases only (autograd cannot take undefined tensors as inputs);
  // has_bias[k] says whether weight k has the next one.
  static variable_list forward(AutogradContext* ctx, const at::Tensor& shard, at::TensorList weights,
                               at::TensorList biases, const std::vector<int64_t>& has_bias, Group* group) {
    const at::Tensor full = group->allGather(shard, kSequenceDim);
    variable_list outputs;
    std::size_t next_bias = 0;
    for (std::size_t k = 0; k < weights.size(); ++k) {
      const at::Tensor bias = has_bias[k] != 0 ? biases[next_bias++] : at::Tensor();
      outputs.push_back(at::linear(full, weights[k], bias));
    }
    variable_list saved{shard};
    saved.insert(saved.end(), weights.begin(), weights.end());
    ctx->save_for_backward(saved);
    ctx->saved_data["group"] = static_cast<int64_t>(reinterpret_cast<std::intptr_t>(group));
    ctx->saved_data["has_bias"] = has_bias;
    return outputs;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    Group& group = *reinterpret_cast<Group*>(static_cast<std::intptr_t>(ctx->saved_data["group"].toInt()));
    const variable_list saved = ctx->get_saved_variables();
    const std::vector<int64_t> has_bias = ctx->saved_data["has_bias"].toIntVector();
    const at::Tensor full = group.allGather(saved[0], kSequenceDim);
    const at::Tensor flat_input = full.reshape({-1, full.size(-1)});
    at::Tensor grad_full;
    variable_list weight_grads;
    variable_list bias_grads;
    for (std::size_t k = 0; k < grads.size(); ++k) {
      const at::Tensor& weight = saved[k + 1];
      const at::Tensor flat_grad = grads[k].reshape({-1, grads[k].size(-1)});
      weight_grads.push_back(flat_grad.t().mm(flat_input));
      if (has_bias[k] != 0) bias_grads.push_back(flat_grad.sum(0));
      const at::Tensor input_grad = grads[k].matmul(weight);
      grad_full = grad_full.defined() ? grad_full.add_(input_grad) : input_grad;
    }
    variable_list result{group.reduceScatter(grad_full, kSequenceDim)};
    result.insert(result.end(), weight_grads.begin(), weight_grads.end());
    result.insert(result.end(), bias_grads.begin(), bias_grads.end());
    result.emplace_back();  // has_bias
    result.emplace_back();  // the group
    return result;
  }
};

// Vocabulary-parallel cross-entropy (Megatron's _VocabParallelCrossEntropy): the softmax's max,
// normalizer and target logit are each one all-reduce of a value per token.
struct VocabParallelCrossEntropy : torch::autograd::Function<VocabParallelCrossEntropy> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& logits_shard, const at::Tensor& targets,
                            int64_t first_column, int64_t vocab_size, Group* group) {
    const int64_t columns = logits_shard.size(-1);
    at::Tensor logits = logits_shard.to(at::kFloat).reshape({-1, columns});
    const at::Tensor flat_targets = targets.reshape({-1});
    if (flat_targets.size(0) != logits.size(0)) {
      throw std::invalid_argument("vocabParallelCrossEntropy: " + std::to_string(logits.size(0)) + " tokens of logits but " +
                                  std::to_string(flat_targets.size(0)) + " targets");
    }
    const at::Tensor column_ids = at::arange(first_column, first_column + columns, flat_targets.options());
    const at::Tensor padding = column_ids.ge(vocab_size);
    logits = logits.masked_fill(padding, -std::numeric_limits<double>::infinity());

    at::Tensor max = std::get<0>(logits.max(-1));
    group->allReduce(max, ReduceOp::Max);
    const at::Tensor exponentials = (logits - max.unsqueeze(-1)).exp();
    at::Tensor sum = exponentials.sum(-1);
    group->allReduce(sum, ReduceOp::Sum);

    const at::Tensor local_target = flat_targets - first_column;
    const at::Tensor mine = local_target.ge(0).logical_and(local_target.lt(columns));
    const at::Tensor index = local_target.masked_fill(mine.logical_not(), 0).unsqueeze(-1);
    at::Tensor target_logit = (logits.gather(-1, index).squeeze(-1) - max).masked_fill(mine.logical_not(), 0.0);
    group->allReduce(target_logit, ReduceOp::Sum);

    const at::Tensor loss = (sum.log() - target_logit).mean();
    ctx->save_for_backward({exponentials / sum.unsqueeze(-1), index, mine});
    ctx->saved_data["dtype"] = static_cast<int64_t>(logits_shard.scalar_type());
    ctx->saved_data["shape"] = logits_shard.sizes().vec();
    return loss;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor& softmax = saved[0];
    const at::Tensor& index = saved[1];
    const at::Tensor& mine = saved[2];
    // d(mean loss)/d logit = (softmax - one_hot(target)) / tokens; padding columns have softmax 0.
    at::Tensor grad = softmax.scatter_add(-1, index, -mine.to(softmax.scalar_type()).unsqueeze(-1));
    grad.mul_(grads[0].to(at::kFloat) / static_cast<double>(softmax.size(0)));
    const auto dtype = static_cast<at::ScalarType>(ctx->saved_data["dtype"].toInt());
    grad = grad.view(ctx->saved_data["shape"].toIntVector()).to(dtype);
    return {grad, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

std::int64_t paddedToMultiple(std::int64_t length, std::int64_t parts) { return (length + parts - 1) / parts * parts; }

ShardRange evenShard(std::int64_t length, int parts, int index) {
  const std::int64_t size = paddedToMultiple(length, parts) / parts;
  return {size * index, size};
}

at::Tensor columnParallelInput(const at::Tensor& x, const TensorParallelContext& tp) {
  Group& group = groupOf(tp);
  return tp.sequence_parallel ? x : copyToGroup(x, group);
}

at::Tensor columnParallelLinear(const at::Tensor& prepared, const at::Tensor& weight_shard,
                                const at::Tensor& bias_shard, const TensorParallelContext& tp, bool gather_output) {
  const at::Tensor local = tp.sequence_parallel ? columnParallelLinears(prepared, {weight_shard}, {bias_shard}, tp)[0]
                                                : deferrableLinear(prepared, weight_shard, bias_shard);
  return gather_output ? gatherFromGroup(local, groupOf(tp), local.dim() - 1) : local;
}

std::vector<at::Tensor> columnParallelLinears(const at::Tensor& prepared, const std::vector<at::Tensor>& weight_shards,
                                              const std::vector<at::Tensor>& bias_shards,
                                              const TensorParallelContext& tp) {
  if (!bias_shards.empty() && bias_shards.size() != weight_shards.size()) {
    throw std::invalid_argument("columnParallelLinears: " + std::to_string(bias_shards.size()) + " biases for " +
                                std::to_string(weight_shards.size()) + " weights");
  }
  Group& group = groupOf(tp);
  if (tp.sequence_parallel) {
    if (prepared.dim() < 2) {
      throw std::invalid_argument("columnParallelLinears: a sequence-parallel input needs a sequence dimension (dim 1)");
    }
    std::vector<at::Tensor> biases;
    std::vector<int64_t> has_bias;
    for (std::size_t k = 0; k < weight_shards.size(); ++k) {
      const bool defined = !bias_shards.empty() && bias_shards[k].defined();
      if (defined) biases.push_back(bias_shards[k]);
      has_bias.push_back(defined ? 1 : 0);
    }
    return SequenceParallelColumnMatmul::apply(prepared, at::TensorList(weight_shards), at::TensorList(biases), has_bias,
                                               &group);
  }
  std::vector<at::Tensor> outputs;
  for (std::size_t k = 0; k < weight_shards.size(); ++k) {
    outputs.push_back(deferrableLinear(prepared, weight_shards[k], bias_shards.empty() ? at::Tensor() : bias_shards[k]));
  }
  return outputs;
}

at::Tensor rowParallelLinear(const at::Tensor& x, const at::Tensor& weight_shard, const at::Tensor& bias,
                             const TensorParallelContext& tp) {
  Group& group = groupOf(tp);
  const at::Tensor partial = deferrableLinear(x, weight_shard, at::Tensor());
  const at::Tensor reduced =
      tp.sequence_parallel ? reduceScatterToGroup(partial, group, kSequenceDim) : reduceFromGroup(partial, group);
  return bias.defined() ? reduced + bias : reduced;
}

at::Tensor vocabParallelEmbedding(const at::Tensor& ids, const at::Tensor& weight_shard, std::int64_t first_row,
                                  const TensorParallelContext& tp) {
  Group& group = groupOf(tp);
  const at::Tensor local = ids - first_row;
  const at::Tensor elsewhere = local.lt(0).logical_or(local.ge(weight_shard.size(0)));
  const at::Tensor rows = at::embedding(weight_shard, local.masked_fill(elsewhere, 0));
  const at::Tensor partial = rows.masked_fill(elsewhere.unsqueeze(-1), 0.0);
  return tp.sequence_parallel ? reduceScatterToGroup(partial, group, kSequenceDim) : reduceFromGroup(partial, group);
}

at::Tensor vocabParallelCrossEntropy(const at::Tensor& logits_shard, const at::Tensor& targets,
                                     std::int64_t first_column, std::int64_t vocab_size, Group& group) {
  return VocabParallelCrossEntropy::apply(logits_shard, targets, first_column, vocab_size, &group);
}

}  // namespace behemoth
