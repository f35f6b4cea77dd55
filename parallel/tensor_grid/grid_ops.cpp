#include "parallel/tensor_grid/grid_ops.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "parallel/autograd_collectives.h"

namespace behemoth {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// saved_data holds IValues only: groups are kept by address (the world owns them for its life).
std::int64_t groupHandle(Group* group) { return static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(group)); }
Group* groupFrom(const c10::IValue& handle) { return reinterpret_cast<Group*>(static_cast<std::intptr_t>(handle.toInt())); }

at::Tensor gatherAlong(Group& group, const at::Tensor& x, std::int64_t dim) {
  return group.size() == 1 ? x : group.allGather(x.contiguous(), dim < 0 ? dim + x.dim() : dim);
}
at::Tensor reduceScatterAlong(Group& group, const at::Tensor& x, std::int64_t dim) {
  return group.size() == 1 ? x : group.reduceScatter(x.contiguous(), dim < 0 ? dim + x.dim() : dim);
}

struct GridMatmuls : torch::autograd::Function<GridMatmuls> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, at::TensorList weights, std::int64_t input_group,
                               std::int64_t input_dim, std::int64_t weight_group, std::int64_t weight_dim,
                               std::int64_t output_group) {
    ctx->saved_data["input_group"] = input_group;
    ctx->saved_data["input_dim"] = input_dim;
    ctx->saved_data["weight_group"] = weight_group;
    ctx->saved_data["weight_dim"] = weight_dim;
    ctx->saved_data["output_group"] = output_group;
    std::vector<at::Tensor> saved{x};
    const at::Tensor gathered = gatherAlong(*groupFrom(input_group), x, input_dim);
    variable_list outputs;
    for (const at::Tensor& weight : weights) {
      saved.push_back(weight);
      at::Tensor y = at::matmul(gathered, gatherAlong(*groupFrom(weight_group), weight, weight_dim).t());
      if (output_group != 0) y = reduceScatterAlong(*groupFrom(output_group), y, 0);
      outputs.push_back(std::move(y));
    }
    ctx->save_for_backward(saved);
    return outputs;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    Group& input_group = *groupFrom(ctx->saved_data["input_group"]);
    const std::int64_t input_dim = ctx->saved_data["input_dim"].toInt();
    Group& weight_group = *groupFrom(ctx->saved_data["weight_group"]);
    const std::int64_t weight_dim = ctx->saved_data["weight_dim"].toInt();
    const std::int64_t output_group = ctx->saved_data["output_group"].toInt();
    // Gathered again, as in forward: nothing gathered was kept.
    const at::Tensor gathered = gatherAlong(input_group, saved[0], input_dim);
    const at::Tensor flat_input = gathered.reshape({-1, gathered.size(-1)});
    at::Tensor input_grad;
    variable_list weight_grads;
    for (std::size_t k = 0; k + 1 < saved.size(); ++k) {
      at::Tensor grad = grads[k];
      if (!grad.defined()) grad = at::zeros_like(saved[k + 1]);  // never: every output feeds the loss
      if (output_group != 0) grad = gatherAlong(*groupFrom(ctx->saved_data["output_group"]), grad, 0);
      const at::Tensor weight = gatherAlong(weight_group, saved[k + 1], weight_dim);
      const at::Tensor flat_grad = grad.reshape({-1, grad.size(-1)});
      weight_grads.push_back(reduceScatterAlong(weight_group, flat_grad.t().mm(flat_input), weight_dim));
      const at::Tensor part = grad.matmul(weight);
      input_grad = input_grad.defined() ? input_grad.add_(part) : part;
    }
    variable_list result{reduceScatterAlong(input_group, input_grad, input_dim)};
    result.insert(result.end(), weight_grads.begin(), weight_grads.end());
    result.resize(result.size() + 5);  // the groups and dims
    return result;
  }
};

struct AllReduceSumAdjoint : torch::autograd::Function<AllReduceSumAdjoint> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, std::int64_t group) {
    ctx->saved_data["group"] = group;
    at::Tensor sum = x.contiguous().clone();
    groupFrom(group)->allReduce(sum);
    return sum;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::Tensor grad = grads[0].contiguous().clone();
    groupFrom(ctx->saved_data["group"])->allReduce(grad);
    return {grad, at::Tensor()};
  }
};

struct ReportedAs : torch::autograd::Function<ReportedAs> {
  static at::Tensor forward(AutogradContext*, const at::Tensor& /*share*/, const at::Tensor& total) {
    return total.detach().clone();
  }
  static variable_list backward(AutogradContext*, variable_list grads) { return {grads[0], at::Tensor()}; }
};

}  // namespace

std::vector<at::Tensor> gridMatmuls(const at::Tensor& x, const std::vector<at::Tensor>& weights, const GridMatmul& spec) {
  if (!spec.input_group || !spec.weight_group) throw std::invalid_argument("gridMatmuls: the input and weight groups are required");
  const std::int64_t output = spec.output_group ? groupHandle(spec.output_group) : 0;
  return GridMatmuls::apply(x, at::TensorList(weights), groupHandle(spec.input_group), spec.input_dim,
                            groupHandle(spec.weight_group), spec.weight_dim, output);
}

at::Tensor allReduceSumAdjoint(const at::Tensor& x, Group& group) {
  if (group.size() == 1) return x;
  return AllReduceSumAdjoint::apply(x, groupHandle(&group));
}

at::Tensor gridLayerNorm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps,
                         std::int64_t full_features, Group& feature_group) {
  const at::Tensor input = x.to(at::kFloat);
  const at::Tensor mean = allReduceSumAdjoint(input.sum(-1, true), feature_group) / static_cast<double>(full_features);
  const at::Tensor centered = input - mean;
  const at::Tensor variance =
      allReduceSumAdjoint((centered * centered).sum(-1, true), feature_group) / static_cast<double>(full_features);
  at::Tensor y = centered * at::rsqrt(variance + eps) * weight.to(at::kFloat);
  if (bias.defined()) y = y + bias.to(at::kFloat);
  return y.to(x.scalar_type());
}

at::Tensor gridRmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps, std::int64_t full_features,
                       Group& feature_group) {
  const at::Tensor input = x.to(at::kFloat);
  const at::Tensor mean_square =
      allReduceSumAdjoint((input * input).sum(-1, true), feature_group) / static_cast<double>(full_features);
  return (input * at::rsqrt(mean_square + eps)).to(x.scalar_type()) * weight;
}

at::Tensor gridEmbedding(const at::Tensor& ids, const at::Tensor& table_block, Group& table_group, std::int64_t table_dim,
                         std::int64_t first_row, Group& sum_group, std::int64_t sum_dim) {
  const at::Tensor table = table_group.size() == 1 ? table_block : allGatherWithReduceScatterGrad(table_block, table_group, table_dim);
  const at::Tensor local = ids - first_row;
  const at::Tensor elsewhere = local.lt(0).logical_or(local.ge(table.size(0)));
  const at::Tensor rows = at::embedding(table, local.masked_fill(elsewhere, 0)).masked_fill(elsewhere.unsqueeze(-1), 0.0);
  return reduceScatterToGroup(rows, sum_group, sum_dim < 0 ? sum_dim + rows.dim() : sum_dim);
}

at::Tensor reportedAs(const at::Tensor& share, const at::Tensor& total) { return ReportedAs::apply(share, total); }

}  // namespace behemoth
