#include "parallel/tensor_grid/tensor_grid.h"

#include <cmath>
#include <stdexcept>

namespace behemoth {
namespace {

std::string str(int value) { return std::to_string(value); }

// The integer r with r^power == value, or 0 when there is none.
int exactRoot(int value, int power) {
  const int guess = static_cast<int>(std::lround(std::pow(static_cast<double>(value), 1.0 / power)));
  for (int r = std::max(1, guess - 1); r <= guess + 1; ++r) {
    long long p = 1;
    for (int k = 0; k < power; ++k) p *= r;
    if (p == value) return r;
  }
  return 0;
}

}  // namespace

TensorParallelMode tensorParallelModeFromName(std::string_view name) {
  if (name == "1d") return TensorParallelMode::one_d;
  if (name == "2d") return TensorParallelMode::two_d;
  if (name == "2.5d") return TensorParallelMode::two_and_a_half_d;
  if (name == "3d") return TensorParallelMode::three_d;
  throw std::invalid_argument("parallel.tp_mode: unknown mode '" + std::string(name) + "' (expected 1d, 2d, 2.5d or 3d)");
}

std::string_view tensorParallelModeName(TensorParallelMode mode) {
  switch (mode) {
    case TensorParallelMode::one_d: return "1d";
    case TensorParallelMode::two_d: return "2d";
    case TensorParallelMode::two_and_a_half_d: return "2.5d";
    case TensorParallelMode::three_d: return "3d";
  }
  return "1d";
}

TensorGrid TensorGrid::fromPlan(int tp, std::string_view mode_name, int tp_depth) {
  TensorGrid grid;
  grid.mode = tensorParallelModeFromName(mode_name);
  switch (grid.mode) {
    case TensorParallelMode::one_d: grid.q = tp; break;
    case TensorParallelMode::two_d:
      grid.q = exactRoot(tp, 2);
      if (grid.q < 2) throw std::invalid_argument("parallel.tp: " + str(tp) + " is not a square q x q (q >= 2) as parallel.tp_mode 2d needs");
      break;
    case TensorParallelMode::two_and_a_half_d: {
      if (tp_depth < 1 || tp % tp_depth != 0) {
        throw std::invalid_argument("parallel.tp_depth: " + str(tp_depth) + " does not divide parallel.tp (" + str(tp) + ")");
      }
      grid.depth = tp_depth;
      grid.q = exactRoot(tp / tp_depth, 2);
      if (grid.q < 2) {
        throw std::invalid_argument("parallel.tp: " + str(tp) + " is not q x q x parallel.tp_depth (" + str(tp_depth) +
                                    ", q >= 2) as parallel.tp_mode 2.5d needs");
      }
      break;
    }
    case TensorParallelMode::three_d:
      grid.q = exactRoot(tp, 3);
      if (grid.q < 2) throw std::invalid_argument("parallel.tp: " + str(tp) + " is not a cube q x q x q (q >= 2) as parallel.tp_mode 3d needs");
      break;
  }
  return grid;
}

int TensorGrid::size() const {
  if (mode == TensorParallelMode::one_d) return q;
  if (mode == TensorParallelMode::three_d) return q * q * q;
  return q * q * depth;
}

std::array<int, 3> TensorGrid::axisSizes() const {
  if (mode == TensorParallelMode::one_d) return {1, 1, q};
  if (mode == TensorParallelMode::three_d) return {q, q, q};
  return {depth, q, q};
}

std::array<int, 3> TensorGrid::coordinates(int tp_rank) const {
  const auto sizes = axisSizes();
  if (tp_rank < 0 || tp_rank >= size()) throw std::out_of_range("tensor grid: tp rank " + str(tp_rank) + " is outside 0.." + str(size() - 1));
  return {tp_rank / (sizes[1] * sizes[2]), tp_rank / sizes[2] % sizes[1], tp_rank % sizes[2]};
}

int TensorGrid::rankAt(const std::array<int, 3>& c) const {
  const auto sizes = axisSizes();
  return (c[0] * sizes[1] + c[1]) * sizes[2] + c[2];
}

std::vector<int> TensorGrid::ranksAlong(int tp_rank, int axis) const {
  std::array<int, 3> c = coordinates(tp_rank);
  std::vector<int> ranks;
  for (int k = 0; k < axisSizes().at(axis); ++k) {
    c[axis] = k;
    ranks.push_back(rankAt(c));
  }
  return ranks;
}

std::string TensorGrid::axisLabel(int axis) const {
  static const char* const planar[] = {"tp_depth", "tp_col", "tp_row"};
  static const char* const cube[] = {"tp_x", "tp_y", "tp_z"};
  return mode == TensorParallelMode::three_d ? cube[axis] : planar[axis];
}

int TensorGrid::sampleChunks() const {
  if (mode == TensorParallelMode::one_d) return 1;
  return mode == TensorParallelMode::three_d ? q * q : depth * q;
}

int TensorGrid::residualSampleChunk(int tp_rank) const {
  const auto c = coordinates(tp_rank);
  if (mode == TensorParallelMode::one_d) return 0;
  return c[0] * q + c[1];  // 2d / 2.5d: depth * q + i; 3d: x * q + y
}

int TensorGrid::residualFeatureChunk(int tp_rank) const { return coordinates(tp_rank)[2]; }

int TensorGrid::innerSampleChunk(int tp_rank) const {
  if (mode != TensorParallelMode::three_d) return residualSampleChunk(tp_rank);
  const auto c = coordinates(tp_rank);
  return c[0] * q + c[2];  // x * q + z
}

int TensorGrid::innerFeatureChunk(int tp_rank) const {
  if (mode != TensorParallelMode::three_d) return residualFeatureChunk(tp_rank);
  return coordinates(tp_rank)[1];  // y
}

int TensorGrid::vocabularyMultiple() const { return mode == TensorParallelMode::three_d ? q * q : q; }

}  // namespace behemoth
