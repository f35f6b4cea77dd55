#include "parallel/plan.h"

#include <cstdint>

#include <stdexcept>

namespace behemoth {

std::string_view axisName(Axis axis) {
  switch (axis) {
    case Axis::dp: return "dp";
    case Axis::pp: return "pp";
    case Axis::tp: return "tp";
    case Axis::sp: return "sp";
    case Axis::ep: return "ep";
  }
  return "?";
}

Axis axisFromName(std::string_view name) {
  for (Axis axis : kAllAxes) {
    if (axisName(axis) == name) return axis;
  }
  throw std::invalid_argument("unknown parallel axis '" + std::string(name) +
                              "' (expected one of dp, pp, tp, sp, ep)");
}

int Plan::size(Axis axis) const {
  switch (axis) {
    case Axis::dp: return dp;
    case Axis::pp: return pp;
    case Axis::tp: return tp;
    case Axis::sp: return sp;
    case Axis::ep: return ep;
  }
  return 1;
}

void Plan::setSize(Axis axis, int value) {
  switch (axis) {
    case Axis::dp: dp = value; break;
    case Axis::pp: pp = value; break;
    case Axis::tp: tp = value; break;
    case Axis::sp: sp = value; break;
    case Axis::ep: ep = value; break;
  }
}

int Plan::worldSize() const { return dp * pp * tp * sp * ep; }

void Plan::resolve(int world_size) {
  if (world_size < 1) throw std::invalid_argument("world size must be at least 1, got " + std::to_string(world_size));
  for (Axis axis : kAllAxes) {
    const int value = size(axis);
    if (axis == Axis::dp && value == -1) continue;
    if (value < 1) {
      throw std::invalid_argument("parallel." + std::string(axisName(axis)) + ": must be >= 1" +
                                  (axis == Axis::dp ? " or -1" : "") + ", got " + std::to_string(value));
    }
  }
  // 64-bit: axes of a mistyped project may multiply past int.
  const std::int64_t others = std::int64_t{pp} * tp * sp * ep;
  if (others > world_size && dp == -1) {
    for (Axis axis : {Axis::pp, Axis::tp, Axis::sp, Axis::ep}) {
      if (size(axis) == others) {
        throw std::invalid_argument("parallel." + std::string(axisName(axis)) + ": " + std::to_string(others) +
                                    " exceeds the world size " + std::to_string(world_size));
      }
    }
    throw std::invalid_argument("parallel: pp*tp*sp*ep = " + std::to_string(others) + " exceeds the world size " +
                                std::to_string(world_size));
  }
  if (dp == -1) {
    if (world_size % others != 0) {
      // Name the one axis at fault when only one is set.
      for (Axis axis : {Axis::pp, Axis::tp, Axis::sp, Axis::ep}) {
        if (size(axis) == others) {
          throw std::invalid_argument("parallel." + std::string(axisName(axis)) + ": " + std::to_string(others) +
                                      " does not divide the world size " + std::to_string(world_size));
        }
      }
      throw std::invalid_argument("parallel: pp*tp*sp*ep = " + std::to_string(others) +
                                  " does not divide the world size " + std::to_string(world_size));
    }
    dp = static_cast<int>(world_size / others);
  }
  if (std::int64_t{dp} * others != world_size) {
    throw std::invalid_argument("parallel: dp*pp*tp*sp*ep = " + std::to_string(std::int64_t{dp} * others) +
                                " but the world has " + std::to_string(world_size) + " ranks");
  }
  std::array<bool, kAxisCount> seen{};
  for (Axis axis : order) {
    if (seen[static_cast<int>(axis)]) {
      throw std::invalid_argument("parallel.order: names axis '" + std::string(axisName(axis)) + "' twice");
    }
    seen[static_cast<int>(axis)] = true;
  }
  if (zero < 0 || zero > 3) throw std::invalid_argument("parallel.zero: must be 0, 1, 2 or 3, got " + std::to_string(zero));
  if (bucket_mb <= 0) throw std::invalid_argument("parallel.bucket_mb: must be positive");
}

}  // namespace behemoth
