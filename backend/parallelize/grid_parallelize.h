// Applies 2D (Optimus), 2.5D (Tesseract) or 3D tensor parallelism to a zoo model, in place
// (docs/tensor-parallel-grid.md). Every parameter is replaced by this rank's block, sliced from
// the full parameters the seed initialized, so every mode starts from one process's weights.
//
// The grid (parallel/tensor_grid/tensor_grid.h) has sub-axes (a, b, c); c splits the residual
// stream's features in every mode. Weights are [out, in] blocks:
//   2d / 2.5d: out chunk c (of q), in chunk b (of q); replicated over the depth a, whose ranks
//              see other samples, so their gradients are summed over tp_depth.
//   3d: the first linear of a pair (attn.qkv / q, k, v; mlp.fc / gate, up) "A": out chunk y (b),
//       in chunk z q + x; the second (attn.proj / o; mlp.proj / down) "B": out chunk z (c), in
//       chunk y q + x. Each 3d weight block is held by one rank.
//   The token table (and an untied lm_head, stored alike) is [vocabulary, d_model]: 2d / 2.5d rows
//   chunk c, columns chunk b; 3d rows chunk y q + x, columns chunk z. The vocabulary is padded
//   with zero rows to a multiple of its parts.
// Norm weights, biases and GPT's position table hold the features chunk of their layout and are
// replicated over the other sub-axes: gradient hooks sum their parts over those.
#pragma once

#include <ATen/Tensor.h>

#include "backend/parallelize/parallelize.h"

namespace behemoth {

class LanguageModel;
class ProcessWorld;

// Throws std::invalid_argument naming the plan or model field that cannot be split.
TensorParallelLayout gridParallelize(LanguageModel& model, const Plan& plan, ProcessWorld& world);

// The whole parameter from every tp rank's block (an all-gather over the tp group: collective).
at::Tensor gatherGridParameter(const at::Tensor& local, const ParameterPlacement& placement, Group& tp_group);

}  // namespace behemoth
