#include "parallel/autograd_collectives.h"

#include <torch/autograd.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace behemoth {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// saved_data holds IValues only; the group is kept as its address. The world owns every group for
// its whole life, which outlives any graph built over it.
void saveGroup(AutogradContext* ctx, Group& group) {
  ctx->saved_data["group"] = static_cast<int64_t>(reinterpret_cast<std::intptr_t>(&group));
}
Group& savedGroup(AutogradContext* ctx) {
  return *reinterpret_cast<Group*>(static_cast<std::intptr_t>(ctx->saved_data["group"].toInt()));
}

at::Tensor localChunk(const at::Tensor& x, const Group& group, int64_t dim, const char* operation) {
  const int64_t wrapped = dim < 0 ? dim + x.dim() : dim;
  if (wrapped < 0 || wrapped >= x.dim() || x.size(wrapped) % group.size() != 0) {
    throw std::invalid_argument(std::string(operation) + " on group " + group.label() + ": dim " + std::to_string(dim) +
                                " of a tensor with " + std::to_string(x.dim()) +
                                " dims cannot be split evenly into " + std::to_string(group.size()) + " chunks");
  }
  return x.chunk(group.size(), wrapped)[group.rank()].contiguous();
}

struct CopyToGroup : torch::autograd::Function<CopyToGroup> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, Group* group) {
    saveGroup(ctx, *group);
    return x;  // autograd turns a returned input into a cheap view
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::Tensor grad = grads[0].contiguous().clone();
    savedGroup(ctx).allReduce(grad);
    return {grad, at::Tensor()};
  }
};

struct ReduceFromGroup : torch::autograd::Function<ReduceFromGroup> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, Group* group) {
    at::Tensor out = x.contiguous().clone();
    group->allReduce(out);
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) { return {grads[0], at::Tensor()}; }
};

struct GatherFromGroup : torch::autograd::Function<GatherFromGroup> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, Group* group, int64_t dim) {
    saveGroup(ctx, *group);
    ctx->saved_data["dim"] = dim;
    return group->allGather(x, dim);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    Group& group = savedGroup(ctx);
    return {localChunk(grads[0], group, ctx->saved_data["dim"].toInt(), "gatherFromGroup backward"), at::Tensor(),
            at::Tensor()};
  }
};

struct AllGatherReduceScatterGrad : torch::autograd::Function<AllGatherReduceScatterGrad> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, Group* group, int64_t dim) {
    saveGroup(ctx, *group);
    ctx->saved_data["dim"] = dim;
    return group->allGather(x, dim);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {savedGroup(ctx).reduceScatter(grads[0], ctx->saved_data["dim"].toInt()), at::Tensor(), at::Tensor()};
  }
};

struct ScatterToGroup : torch::autograd::Function<ScatterToGroup> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, Group* group, int64_t dim) {
    saveGroup(ctx, *group);
    ctx->saved_data["dim"] = dim;
    return localChunk(x, *group, dim, "scatterToGroup");
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {savedGroup(ctx).allGather(grads[0], ctx->saved_data["dim"].toInt()), at::Tensor(), at::Tensor()};
  }
};

struct ReduceScatterToGroup : torch::autograd::Function<ReduceScatterToGroup> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, Group* group, int64_t dim) {
    saveGroup(ctx, *group);
    ctx->saved_data["dim"] = dim;
    return group->reduceScatter(x, dim);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {savedGroup(ctx).allGather(grads[0], ctx->saved_data["dim"].toInt()), at::Tensor(), at::Tensor()};
  }
};

struct AllToAllInGroup : torch::autograd::Function<AllToAllInGroup> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, Group* group, int64_t split_dim,
                            int64_t concat_dim) {
    saveGroup(ctx, *group);
    ctx->saved_data["split_dim"] = split_dim;
    ctx->saved_data["concat_dim"] = concat_dim;
    return group->allToAll(x, split_dim, concat_dim);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    // The inverse permutation: what arrived along concat_dim goes back to its sender, re-split there.
    at::Tensor grad = savedGroup(ctx).allToAll(grads[0], ctx->saved_data["concat_dim"].toInt(),
                                               ctx->saved_data["split_dim"].toInt());
    return {grad, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor copyToGroup(const at::Tensor& x, Group& group) { return CopyToGroup::apply(x, &group); }
at::Tensor reduceFromGroup(const at::Tensor& x, Group& group) { return ReduceFromGroup::apply(x, &group); }
at::Tensor gatherFromGroup(const at::Tensor& x, Group& group, int64_t dim) {
  return GatherFromGroup::apply(x, &group, dim);
}
at::Tensor allGatherWithReduceScatterGrad(const at::Tensor& x, Group& group, int64_t dim) {
  return AllGatherReduceScatterGrad::apply(x, &group, dim);
}
at::Tensor scatterToGroup(const at::Tensor& x, Group& group, int64_t dim) {
  return ScatterToGroup::apply(x, &group, dim);
}
at::Tensor reduceScatterToGroup(const at::Tensor& x, Group& group, int64_t dim) {
  return ReduceScatterToGroup::apply(x, &group, dim);
}
at::Tensor allToAllInGroup(const at::Tensor& x, Group& group, int64_t split_dim, int64_t concat_dim) {
  return AllToAllInGroup::apply(x, &group, split_dim, concat_dim);
}

}  // namespace behemoth
