// The autograd-correct layers of 2D, 2.5D and 3D tensor parallelism (tensor_grid.h), built from
// all-gathers and reduce-scatters along the grid's sub-axes. Every collective's backward is its
// exact adjoint (all-gather <-> reduce-scatter, all-reduce <-> all-reduce), so a rank's gradient
// of anything it holds is its own part of the global gradient; parameters that several ranks hold
// whole (norm weights, biases) get partial gradients that the caller sums over their holders.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "parallel/group.h"

namespace behemoth {

// How one grid linear gathers its operands (SUMMA's row and column broadcasts, as all-gathers).
//   2d / 2.5d: x [b, T, K/q] is all-gathered over the grid row along its features (dim -1) and a
//              weight block [N/q, K/q] over the grid column along its input features (dim 1);
//              y = x w^T is [b, T, N/q]: the same batch chunk, output features chunk j.
//   3d:        x [b, T, K/q] is all-gathered over one cube axis along the batch (dim 0), a weight
//              block [N/q, K/q^2] over x along dim 1 (or a vocabulary block [N/q^2, K/q] along dim
//              0), and the product, partial over the input features, is reduce-scattered over the
//              third axis along the batch.
struct GridMatmul {
  Group* input_group = nullptr;
  std::int64_t input_dim = -1;
  Group* weight_group = nullptr;
  std::int64_t weight_dim = 1;
  Group* output_group = nullptr;  // null: no reduction (2d / 2.5d)
};

// y_k = gather(x) gather(w_k)^T for every weight of one input (q, k, v; gate, up): x is gathered
// once. Backward gathers x and the weights again rather than keeping them (activation and weight
// memory stay 1/tp, as SUMMA's), then reduce-scatters the input and weight gradients.
std::vector<at::Tensor> gridMatmuls(const at::Tensor& x, const std::vector<at::Tensor>& weights, const GridMatmul& spec);

// Sum over the group, in forward and (its adjoint) in backward: statistics over features that
// several ranks hold, each rank using the sum for its own part.
at::Tensor allReduceSumAdjoint(const at::Tensor& x, Group& group);

// LayerNorm / RMSNorm over features split across `feature_group` (full_features in all): the mean
// and variance (the mean square) are sums over the group. Computed in float32, returned in x's
// dtype; weight and bias are this rank's features.
at::Tensor gridLayerNorm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps,
                         std::int64_t full_features, Group& feature_group);
at::Tensor gridRmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps, std::int64_t full_features,
                       Group& feature_group);

// Token lookup from a table held in blocks: the block is all-gathered over table_group along
// table_dim into rows [first_row, first_row + rows) of the vocabulary and this rank's features
// chunk (or all features, 2d), ids outside it give zeros, and the partial rows are
// reduce-scattered over sum_group along sum_dim (2d / 2.5d: the features, dim -1; 3d: the batch).
at::Tensor gridEmbedding(const at::Tensor& ids, const at::Tensor& table_block, Group& table_group, std::int64_t table_dim,
                         std::int64_t first_row, Group& sum_group, std::int64_t sum_dim);

// A value `total` whose gradient flows to `share` (unit Jacobian): a rank's part of the loss,
// reported as the whole job's loss.
at::Tensor reportedAs(const at::Tensor& share, const at::Tensor& total);

}  // namespace behemoth
