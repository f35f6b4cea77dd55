#include "parallel/tensor_parallel/tensor_parallel_ops.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <limits>
#include <stdexcept>
#include <string>

#include "parallel/autograd_collectives.h"

namespace behemoth {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

Group& groupOf(const TensorParallelContext& tp) {
  if (tp.group == nullptr) throw std::logic_error("tensor-parallel layer used without a tp group");
  return *tp.group;
}

constexpr int64_t kSequenceDim = 1;

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
  return tp.sequence_parallel ? allGatherWithReduceScatterGrad(x, group, kSequenceDim) : copyToGroup(x, group);
}

at::Tensor columnParallelLinear(const at::Tensor& prepared, const at::Tensor& weight_shard,
                                const at::Tensor& bias_shard, const TensorParallelContext& tp, bool gather_output) {
  const at::Tensor local = at::linear(prepared, weight_shard, bias_shard);
  return gather_output ? gatherFromGroup(local, groupOf(tp), local.dim() - 1) : local;
}

at::Tensor rowParallelLinear(const at::Tensor& x, const at::Tensor& weight_shard, const at::Tensor& bias,
                             const TensorParallelContext& tp) {
  Group& group = groupOf(tp);
  const at::Tensor partial = at::linear(x, weight_shard);
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
