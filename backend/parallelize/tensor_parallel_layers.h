// The zoo's adapters onto the tensor-parallel math of parallel/tensor_parallel/: LinearLayer and
// Embedding subclasses that hold one tp rank's shard under the dense layer's parameter names
// ("weight", "bias"), so checkpoints and optimizers see the same names at every layout.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "backend/model/layers.h"
#include "backend/model/linear.h"
#include "parallel/tensor_parallel/tensor_parallel_ops.h"

namespace behemoth {

class ColumnParallelLinear;

// Column-parallel layers that read one input (LLaMA's q, k, v; gate and up). Under SP, the
// first member's prepareInput runs all their matmuls as one columnParallelLinears call (one
// all-gather forward; one all-gather and one reduce-scatter backward) and each member's
// forwardPrepared picks its output up. Owned by its members, so it never outlives them.
class SharedColumnInput {
 public:
  int join(ColumnParallelLinear* member);
  // Runs every member's matmul of `prepared` and keeps the outputs until the members take them.
  void run(const at::Tensor& prepared, const TensorParallelContext& tp);
  // Member `index`'s output of the last run on this very tensor; undefined if none is waiting.
  at::Tensor take(const at::Tensor& prepared, int index);

 private:
  std::vector<ColumnParallelLinear*> members_;
  const void* input_ = nullptr;  // identity of the tensor the waiting outputs were computed from
  std::vector<at::Tensor> waiting_;
};

// Output features split over tp: weight [out / tp, in], bias [out / tp] (or none). The input is
// replicated (or sequence-sharded under SP, all-gathered by the matmul); the output is this
// rank's slice of the features unless gather_output.
class ColumnParallelLinear : public LinearLayer {
 public:
  ColumnParallelLinear(at::Tensor weight_shard, at::Tensor bias_shard, TensorParallelContext tp, bool gather_output,
                       std::shared_ptr<SharedColumnInput> shared_input = nullptr);
  at::Tensor forward(const at::Tensor& input) override { return forwardPrepared(prepareInput(input)); }
  at::Tensor prepareInput(const at::Tensor& input) override;
  at::Tensor forwardPrepared(const at::Tensor& prepared) override;

  at::Tensor weight;
  at::Tensor bias;

 private:
  TensorParallelContext tp_;
  bool gather_output_;
  std::shared_ptr<SharedColumnInput> shared_input_;
  int shared_index_ = 0;
};

// Input features split over tp: weight [out, in / tp]; the bias [out] is replicated and added once
// after the all-reduce (or the sequence reduce-scatter under SP).
class RowParallelLinear : public LinearLayer {
 public:
  RowParallelLinear(at::Tensor weight_shard, at::Tensor bias, TensorParallelContext tp);
  at::Tensor forward(const at::Tensor& input) override;

  at::Tensor weight;
  at::Tensor bias;

 private:
  TensorParallelContext tp_;
};

// Rows [first_row, first_row + shard rows) of the padded vocabulary table.
class VocabParallelEmbedding : public Embedding {
 public:
  VocabParallelEmbedding(at::Tensor weight_shard, std::int64_t first_row, TensorParallelContext tp);
  at::Tensor forward(const at::Tensor& indices) override;

 private:
  std::int64_t first_row_;
  TensorParallelContext tp_;
};

}  // namespace behemoth
