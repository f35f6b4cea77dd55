// The tp grid's arithmetic (parallel/tensor_grid/tensor_grid.h): shapes each mode accepts and
// refuses by field, coordinates and the groups along each sub-axis, the batch and feature chunks
// of both activation layouts; and grid_cost.h's figures behaving as the papers say at scale.
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>

#include "parallel/tensor_grid/grid_cost.h"
#include "parallel/tensor_grid/tensor_grid.h"

namespace behemoth {
namespace {

std::string refusal(int tp, const char* mode, int depth) {
  try {
    TensorGrid::fromPlan(tp, mode, depth);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

TEST(TensorGrid, ShapesAreAcceptedOrRefusedNamingTheField) {
  EXPECT_EQ(TensorGrid::fromPlan(4, "2d", 1).q, 2);
  EXPECT_EQ(TensorGrid::fromPlan(9, "2d", 1).q, 3);
  EXPECT_EQ(TensorGrid::fromPlan(27, "3d", 1).q, 3);
  const TensorGrid tesseract = TensorGrid::fromPlan(8, "2.5d", 2);
  EXPECT_EQ(tesseract.q, 2);
  EXPECT_EQ(tesseract.depth, 2);
  EXPECT_EQ(tesseract.size(), 8);
  EXPECT_EQ(refusal(8, "2d", 1).rfind("parallel.tp:", 0), 0u);
  EXPECT_EQ(refusal(4, "3d", 1).rfind("parallel.tp:", 0), 0u);
  EXPECT_EQ(refusal(1, "2d", 1).rfind("parallel.tp:", 0), 0u);  // q must be at least 2
  EXPECT_EQ(refusal(8, "2.5d", 3).rfind("parallel.tp_depth:", 0), 0u);
  EXPECT_EQ(refusal(8, "2.5d", 4).rfind("parallel.tp:", 0), 0u);  // 8 / 4 = 2: not a square of side >= 2
  EXPECT_EQ(refusal(8, "4d", 1).rfind("parallel.tp_mode:", 0), 0u);
}

TEST(TensorGrid, CoordinatesAndGroupsCoverTheGridOnce) {
  for (const TensorGrid& grid : {TensorGrid::fromPlan(8, "3d", 1), TensorGrid::fromPlan(8, "2.5d", 2),
                                 TensorGrid::fromPlan(9, "2d", 1)}) {
    for (int t = 0; t < grid.size(); ++t) EXPECT_EQ(grid.rankAt(grid.coordinates(t)), t);
    for (int axis = 0; axis < 3; ++axis) {
      // The groups along an axis partition the tp ranks, each of the axis' size.
      std::set<int> seen;
      for (int t = 0; t < grid.size(); ++t) {
        const auto group = grid.ranksAlong(t, axis);
        EXPECT_EQ(static_cast<int>(group.size()), grid.axisSizes()[axis]);
        EXPECT_EQ(group.at(grid.coordinates(t)[axis]), t);  // ordered by the coordinate
        if (group.front() == t) seen.insert(group.begin(), group.end());
      }
      EXPECT_EQ(static_cast<int>(seen.size()), grid.size()) << grid.axisLabel(axis);
    }
  }
  const TensorGrid cube = TensorGrid::fromPlan(8, "3d", 1);
  EXPECT_EQ(cube.ranksAlong(0, 2), (std::vector<int>{0, 1}));  // z innermost: neighbours
  EXPECT_EQ(cube.ranksAlong(0, 0), (std::vector<int>{0, 4}));
  EXPECT_EQ(cube.axisLabel(1), "tp_y");
  EXPECT_EQ(TensorGrid::fromPlan(4, "2d", 1).axisLabel(2), "tp_row");
}

TEST(TensorGrid, ChunksOfBothLayoutsAreEachRanksOwn) {
  // 3D: the residual stream's (batch, features) chunk and the inner layout's differ, and in each
  // layout every (batch chunk, features chunk) block is exactly one rank's.
  const TensorGrid cube = TensorGrid::fromPlan(8, "3d", 1);
  EXPECT_EQ(cube.sampleChunks(), 4);
  std::set<std::pair<int, int>> residual, inner;
  for (int t = 0; t < 8; ++t) {
    const auto c = cube.coordinates(t);
    EXPECT_EQ(cube.residualSampleChunk(t), c[0] * 2 + c[1]);
    EXPECT_EQ(cube.residualFeatureChunk(t), c[2]);
    EXPECT_EQ(cube.innerSampleChunk(t), c[0] * 2 + c[2]);
    EXPECT_EQ(cube.innerFeatureChunk(t), c[1]);
    residual.insert({cube.residualSampleChunk(t), cube.residualFeatureChunk(t)});
    inner.insert({cube.innerSampleChunk(t), cube.innerFeatureChunk(t)});
  }
  EXPECT_EQ(residual.size(), 8u);  // 4 batch chunks x 2 feature chunks: every block on one rank
  EXPECT_EQ(inner.size(), 8u);
  const TensorGrid tesseract = TensorGrid::fromPlan(8, "2.5d", 2);
  EXPECT_EQ(tesseract.sampleChunks(), 4);
  EXPECT_EQ(tesseract.residualSampleChunk(tesseract.rankAt({1, 1, 0})), 3);
  EXPECT_EQ(tesseract.innerSampleChunk(5), tesseract.residualSampleChunk(5));
}

// A GPT-3-like block at 64 ranks: 3D and 2D send less per device than 1D, 3D least (the papers'
// ordering), and every mode holds about 1/64 of the matrices.
TEST(TensorGridCost, AtScaleTheGridsSendLessThanOneDimensional) {
  ModelDescription model;
  model.layers = 4;
  model.d_model = 4096;
  model.heads = 64;
  model.kv_heads = 64;
  model.ffn_hidden = 16384;
  model.vocab = 51200;
  model.seq_len = 2048;
  TensorParallelWorkload work;
  work.micro_batch = 16;
  work.element_bytes = 2;
  const auto bytes = [&](int tp, const char* mode, int depth) {
    return tensorParallelCost(model, TensorGrid::fromPlan(tp, mode, depth), work).totalCommBytes();
  };
  const std::int64_t one_d = bytes(64, "1d", 1);
  EXPECT_LT(bytes(64, "2d", 1), one_d);
  EXPECT_LT(bytes(64, "3d", 1), bytes(64, "2d", 1));
  EXPECT_LT(bytes(64, "2.5d", 4), one_d);
  // At tp 4 the 2 x 2 grid moves more than 1D: its weight gathers outweigh what the activations save.
  EXPECT_GT(bytes(4, "2d", 1), bytes(4, "1d", 1));
  const std::int64_t one_d_params = tensorParallelCost(model, TensorGrid::fromPlan(64, "1d", 1), work).parameter_elements;
  const std::int64_t cube_params = tensorParallelCost(model, TensorGrid::fromPlan(64, "3d", 1), work).parameter_elements;
  EXPECT_LT(cube_params, one_d_params);  // 1D keeps norms, row biases and positions whole
}

}  // namespace
}  // namespace behemoth
