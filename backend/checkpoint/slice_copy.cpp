#include "backend/checkpoint/slice_copy.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace behemoth {
namespace {

// Row-major strides of a box.
std::vector<std::int64_t> stridesOf(const std::vector<std::int64_t>& size) {
  std::vector<std::int64_t> strides(size.size(), 1);
  for (std::size_t d = size.size(); d-- > 1;) strides[d - 1] = strides[d] * size[d];
  return strides;
}

}  // namespace

bool boxesOverlap(const TensorSlice& a, const TensorSlice& b) {
  for (std::size_t d = 0; d < a.begin.size(); ++d) {
    if (std::max(a.begin[d], b.begin[d]) >= std::min(a.begin[d] + a.size[d], b.begin[d] + b.size[d])) return false;
  }
  return true;
}

std::int64_t copyOverlap(const TensorSlice& source, const std::byte* source_data, const TensorSlice& target,
                         std::byte* target_data, int element_bytes) {
  const std::size_t dims = source.begin.size();
  if (dims == 0) {  // a scalar: one element, present in both when both take it
    if (source.numel == 1 && target.numel == 1) {
      std::memcpy(target_data, source_data, element_bytes);
      return 1;
    }
    return 0;
  }
  if (!boxesOverlap(source, target)) return 0;
  std::vector<std::int64_t> lo(dims);
  std::vector<std::int64_t> hi(dims);
  for (std::size_t d = 0; d < dims; ++d) {
    lo[d] = std::max(source.begin[d], target.begin[d]);
    hi[d] = std::min(source.begin[d] + source.size[d], target.begin[d] + target.size[d]);
  }
  const auto source_strides = stridesOf(source.size);
  const auto target_strides = stridesOf(target.size);
  const std::int64_t run = hi[dims - 1] - lo[dims - 1];
  std::int64_t copied = 0;
  // Walk the rows of the intersection (every index but the last dimension's); each row is a
  // contiguous run in both boxes, clipped to both flat ranges.
  std::vector<std::int64_t> index(lo.begin(), lo.end());
  while (true) {
    std::int64_t s0 = 0;
    std::int64_t t0 = 0;
    for (std::size_t d = 0; d < dims; ++d) {
      s0 += (index[d] - source.begin[d]) * source_strides[d];
      t0 += (index[d] - target.begin[d]) * target_strides[d];
    }
    const std::int64_t first = std::max({std::int64_t{0}, source.flat_begin - s0, target.flat_begin - t0});
    const std::int64_t last = std::min({run, source.flat_begin + source.numel - s0, target.flat_begin + target.numel - t0});
    if (first < last) {
      std::memcpy(target_data + (t0 + first - target.flat_begin) * element_bytes,
                  source_data + (s0 + first - source.flat_begin) * element_bytes,
                  static_cast<std::size_t>((last - first) * element_bytes));
      copied += last - first;
    }
    // Next row: odometer over dimensions 0 .. dims-2.
    std::size_t d = dims - 1;
    while (d > 0) {
      --d;
      if (++index[d] < hi[d]) break;
      index[d] = lo[d];
      if (d == 0) return copied;
    }
    if (dims == 1) return copied;
  }
}

}  // namespace behemoth
