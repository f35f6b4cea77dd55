// Checks that run inside rank processes: they throw, so runOnRanks reports the failing rank.
#pragma once

#include <ATen/ATen.h>

#include <sstream>
#include <stdexcept>
#include <string>

#include "parallel/plan.h"

namespace behemoth {

// Equal up to fp32 reduction order: splitting a matmul's or a sum's reduction over ranks reorders
// the additions, which moves results by a few ulps of the largest value (1e-5 relative to it).
inline void requireClose(const at::Tensor& actual, const at::Tensor& expected, const std::string& what) {
  if (actual.sizes() != expected.sizes()) {
    std::ostringstream message;
    message << what << ": shape " << actual.sizes() << " vs " << expected.sizes();
    throw std::runtime_error(message.str());
  }
  const double scale = expected.abs().max().item<double>() + 1e-12;
  const double error = (actual - expected).abs().max().item<double>();
  if (error > 1e-5 * scale) {
    std::ostringstream message;
    message << what << ": max error " << error << " relative to max |value| " << scale;
    throw std::runtime_error(message.str());
  }
}

inline void requireEqual(const at::Tensor& actual, const at::Tensor& expected, const std::string& what) {
  if (actual.sizes() != expected.sizes() || actual.scalar_type() != expected.scalar_type() ||
      !at::equal(actual, expected)) {
    std::ostringstream message;
    message << what << ": got\n" << actual << "\nexpected\n" << expected;
    throw std::runtime_error(message.str());
  }
}

inline void requireTrue(bool condition, const std::string& what) {
  if (!condition) throw std::runtime_error("check failed: " + what);
}

template <typename A, typename B>
void requireEq(const A& actual, const B& expected, const std::string& what) {
  if (!(actual == expected)) {
    std::ostringstream message;
    message << what << ": got " << actual << ", expected " << expected;
    throw std::runtime_error(message.str());
  }
}

// A pure data-parallel plan over `world_size` ranks.
inline Plan dataParallelPlan(int world_size) {
  Plan plan;
  plan.resolve(world_size);
  return plan;
}

// Small integer-valued data, distinct per rank, so fp32 sums are exact.
inline at::Tensor rankTensor(int rank, at::IntArrayRef sizes, at::ScalarType dtype = at::kFloat) {
  int64_t numel = 1;
  for (int64_t size : sizes) numel *= size;
  return (at::arange(numel, at::kFloat) * (rank + 1) + rank * 3).remainder(97).reshape(sizes).to(dtype);
}

}  // namespace behemoth
