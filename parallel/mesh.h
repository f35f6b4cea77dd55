// The rank grid: every rank's coordinate along each named axis, and the groups of ranks that
// differ only along some axes. Pure arithmetic over a resolved Plan (no torch, no processes).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "parallel/plan.h"

namespace behemoth {

// Ranks are laid out row-major over Plan::order: order[0] is the outermost (slowest-varying)
// coordinate and order[kAxisCount-1] the innermost, so adjacent ranks differ along order.back().
class Mesh {
 public:
  using Coordinates = std::array<int, kAxisCount>;  // indexed by static_cast<int>(Axis)

  // The plan must be resolved (dp != -1); throws std::invalid_argument otherwise.
  explicit Mesh(const Plan& resolved_plan);

  int size(Axis axis) const { return sizes_[static_cast<int>(axis)]; }
  int worldSize() const { return world_size_; }
  const std::array<Axis, kAxisCount>& order() const { return order_; }

  // Throws std::out_of_range naming the rank when it is outside [0, worldSize()).
  Coordinates coordinates(int rank) const;
  // Throws std::out_of_range naming the axis when a coordinate is outside its axis.
  int rankAt(const Coordinates& coords) const;

  // The ranks that share every coordinate with `rank` except along `axes`, ordered by their index
  // inside the group (row-major over `axes` in Plan::order nesting, which is ascending rank).
  std::vector<int> groupRanks(int rank, const std::vector<Axis>& axes) const;
  // The index of `rank` inside its group along `axes` (its position in groupRanks).
  int indexInGroup(int rank, const std::vector<Axis>& axes) const;

  // e.g. "8 ranks: pp=2 x dp=2 x ep=1 x sp=1 x tp=2 (outermost first)".
  std::string describe() const;

 private:
  std::array<int, kAxisCount> sizes_{};
  std::array<Axis, kAxisCount> order_{};
  std::array<int, kAxisCount> strides_{};  // rank distance between neighbours along each axis
  int world_size_ = 1;
};

}  // namespace behemoth
