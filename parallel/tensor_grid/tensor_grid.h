// The tp ranks as a grid (docs/tensor-parallel-grid.md): pure arithmetic, no torch, no processes.
//
// Every mode is three sub-axes (a, b, c) of the tp group; tp rank t sits at
// t = (a * size_b + b) * size_c + c (c innermost, so a grid row is adjacent ranks).
//   2d   (Optimus):   a = depth (size 1), b = grid row i, c = grid column j; tp = q^2.
//   2.5d (Tesseract): a = depth d (tp_depth stacked 2D grids), b = i, c = j; tp = q^2 d.
//   3d:               a = x, b = y, c = z, each of size q; tp = q^3.
// The residual stream [B, T, d_model] is split over the batch (B) and the features (d_model):
//   2d / 2.5d: batch chunk a * q + b of d q, features chunk c of q, in every layer;
//   3d: batch chunk x q + y of q^2 and features chunk z in the residual stream; the first linear
//       of a pair (qkv, fc) leaves batch chunk x q + z and features chunk y ("inner" layout), and
//       the second (proj) returns to the residual one.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace behemoth {

enum class TensorParallelMode { one_d, two_d, two_and_a_half_d, three_d };

// "1d", "2d", "2.5d", "3d"; throws std::invalid_argument naming parallel.tp_mode otherwise.
TensorParallelMode tensorParallelModeFromName(std::string_view name);
std::string_view tensorParallelModeName(TensorParallelMode mode);

struct TensorGrid {
  TensorParallelMode mode = TensorParallelMode::one_d;
  int q = 1;      // side of the grid (or cube)
  int depth = 1;  // 2.5d: stacked grids

  // The grid of `tp` ranks the plan asks for. Throws std::invalid_argument naming parallel.tp
  // when it is not a square (2d), q^2 * tp_depth (2.5d) or a cube (3d), or parallel.tp_depth when
  // the depth does not fit.
  static TensorGrid fromPlan(int tp, std::string_view mode, int tp_depth);

  bool isGrid() const { return mode != TensorParallelMode::one_d; }
  int size() const;                       // tp
  std::array<int, 3> axisSizes() const;   // sizes of (a, b, c)
  std::array<int, 3> coordinates(int tp_rank) const;
  int rankAt(const std::array<int, 3>& coordinates) const;
  // The tp ranks sharing every coordinate with `tp_rank` but `axis` (0, 1, 2), in axis order.
  std::vector<int> ranksAlong(int tp_rank, int axis) const;
  // The group label of each sub-axis: "tp_depth", "tp_col", "tp_row" (2d / 2.5d: tp_col holds one
  // grid column, its ranks differ in the row index; tp_row one grid row), "tp_x", "tp_y", "tp_z".
  std::string axisLabel(int axis) const;

  // How the residual stream and the inner layout split the batch and the features.
  int sampleChunks() const;     // 2d / 2.5d: d q; 3d: q^2
  int featureChunks() const { return q; }
  int residualSampleChunk(int tp_rank) const;
  int residualFeatureChunk(int tp_rank) const;
  int innerSampleChunk(int tp_rank) const;
  int innerFeatureChunk(int tp_rank) const;
  // The vocabulary is padded to a multiple of this: q (its rows split over q) or q^2 (3d).
  int vocabularyMultiple() const;
  // The divisor of d_model and d_ff a weight's input features are split by: q (2d, 2.5d), q^2 (3d).
  int inputFeatureSplit() const { return mode == TensorParallelMode::three_d ? q * q : q; }
};

}  // namespace behemoth
