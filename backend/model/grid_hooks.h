// What a model asks of 2D, 2.5D or 3D tensor parallelism (backend/parallelize/grid_parallelize.h
// implements it): where this rank's activations sit, the tied head's projection, and the loss of
// this rank's block of the logits. The model knows no grid; it calls these where 1D tensor
// parallelism has its own code.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>

namespace behemoth {

// Where this rank's blocks of the activations sit in the full [B, T, width] tensors: the batch is
// cut into sample_chunks equal chunks, the features (heads) into feature_chunks.
struct GridActivationPlacement {
  int sample_chunks = 1;
  int feature_chunks = 1;
  int residual_sample_chunk = 0;   // the residual stream (block inputs and outputs, norms, dropout)
  int residual_feature_chunk = 0;
  int inner_sample_chunk = 0;      // attention's queries and heads (3D: the other batch chunk)
  int inner_feature_chunk = 0;
};

class GridTensorParallel {
 public:
  virtual ~GridTensorParallel() = default;
  virtual GridActivationPlacement activations() const = 0;
  // hidden (the residual stream's block) x the tied token table's block -> this rank's logits block.
  virtual at::Tensor outputProjection(const at::Tensor& hidden, const at::Tensor& table_block) const = 0;
  // The mean cross-entropy of the whole micro-batch from this rank's logits block; `targets` is
  // the whole micro-batch [B, T]. Its value is the micro-batch's loss on every rank, its gradient
  // this rank's part of it.
  virtual at::Tensor loss(const at::Tensor& logits_block, const at::Tensor& targets) const = 0;
};

}  // namespace behemoth
