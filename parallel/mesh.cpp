#include "parallel/mesh.h"

#include <algorithm>
#include <stdexcept>

namespace behemoth {
namespace {

int axisIndex(Axis axis) { return static_cast<int>(axis); }

}  // namespace

Mesh::Mesh(const Plan& resolved_plan) : order_(resolved_plan.order) {
  std::array<bool, kAxisCount> seen{};
  for (Axis axis : order_) {
    if (seen[axisIndex(axis)]) {
      throw std::invalid_argument("Mesh: parallel.order names axis '" + std::string(axisName(axis)) + "' twice");
    }
    seen[axisIndex(axis)] = true;
  }
  for (Axis axis : kAllAxes) {
    const int value = resolved_plan.size(axis);
    if (value < 1) {
      throw std::invalid_argument("Mesh: parallel." + std::string(axisName(axis)) + " is " + std::to_string(value) +
                                  " (resolve the plan against the world size first)");
    }
    sizes_[axisIndex(axis)] = value;
  }
  // Innermost axis has stride 1; each outer axis strides over everything nested inside it.
  int stride = 1;
  for (int i = kAxisCount - 1; i >= 0; --i) {
    strides_[axisIndex(order_[i])] = stride;
    stride *= sizes_[axisIndex(order_[i])];
  }
  world_size_ = stride;
}

Mesh::Coordinates Mesh::coordinates(int rank) const {
  if (rank < 0 || rank >= world_size_) {
    throw std::out_of_range("Mesh: rank " + std::to_string(rank) + " is outside a world of " +
                            std::to_string(world_size_) + " ranks");
  }
  Coordinates coords{};
  for (Axis axis : kAllAxes) {
    coords[axisIndex(axis)] = (rank / strides_[axisIndex(axis)]) % sizes_[axisIndex(axis)];
  }
  return coords;
}

int Mesh::rankAt(const Coordinates& coords) const {
  int rank = 0;
  for (Axis axis : kAllAxes) {
    const int c = coords[axisIndex(axis)];
    if (c < 0 || c >= sizes_[axisIndex(axis)]) {
      throw std::out_of_range("Mesh: coordinate " + std::to_string(c) + " on axis " + std::string(axisName(axis)) +
                              " is outside its size " + std::to_string(sizes_[axisIndex(axis)]));
    }
    rank += c * strides_[axisIndex(axis)];
  }
  return rank;
}

std::vector<int> Mesh::groupRanks(int rank, const std::vector<Axis>& axes) const {
  const Coordinates base = coordinates(rank);
  std::array<bool, kAxisCount> varies{};
  for (Axis axis : axes) varies[axisIndex(axis)] = true;

  // Enumerate the varying axes row-major in Plan::order nesting (outermost first).
  std::vector<Axis> nested;
  for (Axis axis : order_) {
    if (varies[axisIndex(axis)]) nested.push_back(axis);
  }
  int group_size = 1;
  for (Axis axis : nested) group_size *= size(axis);

  std::vector<int> ranks;
  ranks.reserve(group_size);
  for (int index = 0; index < group_size; ++index) {
    Coordinates coords = base;
    int rest = index;
    for (auto it = nested.rbegin(); it != nested.rend(); ++it) {
      coords[axisIndex(*it)] = rest % size(*it);
      rest /= size(*it);
    }
    ranks.push_back(rankAt(coords));
  }
  return ranks;
}

int Mesh::indexInGroup(int rank, const std::vector<Axis>& axes) const {
  const std::vector<int> ranks = groupRanks(rank, axes);
  return static_cast<int>(std::find(ranks.begin(), ranks.end(), rank) - ranks.begin());
}

std::string Mesh::describe() const {
  std::string text = std::to_string(world_size_) + (world_size_ == 1 ? " rank: " : " ranks: ");
  for (int i = 0; i < kAxisCount; ++i) {
    if (i > 0) text += " x ";
    text += std::string(axisName(order_[i])) + "=" + std::to_string(size(order_[i]));
  }
  return text + " (outermost first)";
}

}  // namespace behemoth
