// The zoo's layers on a 2D / 2.5D / 3D tp grid (parallel/tensor_grid/): each holds this rank's
// block of the dense layer's parameters under the dense names ("weight", "bias"), so checkpoints
// and optimizers see the same names at every layout.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "backend/model/layers.h"
#include "backend/model/linear.h"
#include "parallel/tensor_grid/grid_ops.h"

namespace behemoth {

class GridLinear;

// Grid linears that read one input (LLaMA's q, k, v; gate and up): the first member to see an
// input runs every member's matmul in one gridMatmuls call (one all-gather of the input), the
// others pick their outputs up. Owned by its members.
class SharedGridInput {
 public:
  int join(GridLinear* member);
  at::Tensor outputFor(const at::Tensor& input, int index);

 private:
  std::vector<GridLinear*> members_;
  const void* input_ = nullptr;  // identity of the tensor the waiting outputs were computed from
  std::vector<at::Tensor> waiting_;
};

// y = gather(x) gather(W)^T (+ this rank's bias block), as `spec` says (grid_ops.h).
class GridLinear : public LinearLayer {
 public:
  GridLinear(at::Tensor weight_block, at::Tensor bias_block, GridMatmul spec,
             std::shared_ptr<SharedGridInput> shared_input = nullptr);
  at::Tensor forward(const at::Tensor& input) override;

  at::Tensor weight;
  at::Tensor bias;
  const GridMatmul& spec() const { return spec_; }

 private:
  GridMatmul spec_;
  std::shared_ptr<SharedGridInput> shared_input_;
  int shared_index_ = 0;
};

// The token lookup of gridEmbedding: this rank looks up its batch chunk (lookup_chunk of
// lookup_chunks) of the micro-batch's ids.
struct GridLookup {
  int lookup_chunks = 1;
  int lookup_chunk = 0;
  Group* table_group = nullptr;
  std::int64_t table_dim = 1;
  std::int64_t first_row = 0;
  Group* sum_group = nullptr;
  std::int64_t sum_dim = -1;
};

class GridEmbedding : public Embedding {
 public:
  GridEmbedding(at::Tensor table_block, GridLookup lookup);
  at::Tensor forward(const at::Tensor& ids) override;

 private:
  GridLookup lookup_;
};

// LayerNorm (with bias) or RMSNorm (without) over features split across `feature_group`.
class GridNorm : public Norm {
 public:
  GridNorm(at::Tensor weight_block, at::Tensor bias_block, double eps, std::int64_t full_features, Group& feature_group);
  at::Tensor forward(const at::Tensor& input) override;

  at::Tensor weight;
  at::Tensor bias;

 private:
  double eps_;
  std::int64_t full_features_;
  Group& feature_group_;
};

}  // namespace behemoth
