#include "parallel/sequence_parallel/sequence_shard.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <stdexcept>

namespace behemoth {

SequenceSplit sequenceSplitOf(const std::string& sp_mode) {
  if (sp_mode == "ulysses") return SequenceSplit::contiguous;
  if (sp_mode == "ring") return SequenceSplit::zigzag;
  throw std::invalid_argument("parallel.sp_mode: unknown mode '" + sp_mode + "' (expected ulysses or ring)");
}

SequenceSegments sequenceShard(SequenceSplit split, std::int64_t length, int ranks, int rank) {
  if (ranks < 1 || rank < 0 || rank >= ranks) {
    throw std::invalid_argument("sequence shard: rank " + std::to_string(rank) + " is outside 0.." + std::to_string(ranks - 1));
  }
  const std::int64_t pieces = split == SequenceSplit::zigzag ? 2 * std::int64_t{ranks} : ranks;
  if (length % pieces != 0) {
    throw std::invalid_argument("model.seq_len: " + std::to_string(length) + " tokens cannot be cut into " +
                                std::to_string(pieces) + " equal sequence chunks for parallel.sp " + std::to_string(ranks));
  }
  const std::int64_t chunk = length / pieces;
  if (split == SequenceSplit::contiguous) return {{rank * chunk, chunk}};
  return {{rank * chunk, chunk}, {(pieces - 1 - rank) * chunk, chunk}};
}

std::int64_t totalLength(const SequenceSegments& segments) {
  std::int64_t total = 0;
  for (const SequenceSegment& segment : segments) total += segment.length;
  return total;
}

SequenceSegments sliceSegments(const SequenceSegments& segments, std::int64_t offset, std::int64_t length) {
  SequenceSegments slice;
  std::int64_t local = 0;  // local position of the current segment's first token
  for (const SequenceSegment& segment : segments) {
    const std::int64_t from = std::max(offset, local);
    const std::int64_t to = std::min(offset + length, local + segment.length);
    if (from < to) slice.push_back({segment.start + (from - local), to - from});
    local += segment.length;
  }
  if (totalLength(slice) != length) {
    throw std::invalid_argument("sequence shard: local positions [" + std::to_string(offset) + ", " +
                                std::to_string(offset + length) + ") are outside the shard's " + std::to_string(local));
  }
  return slice;
}

at::Tensor positionsOf(const SequenceSegments& segments, const at::TensorOptions& options) {
  std::vector<at::Tensor> parts;
  for (const SequenceSegment& segment : segments) {
    parts.push_back(at::arange(segment.start, segment.start + segment.length, options.dtype(at::kLong)));
  }
  return parts.size() == 1 ? parts.front() : at::cat(parts);
}

at::Tensor takeSegments(const at::Tensor& full, std::int64_t dim, const SequenceSegments& segments) {
  std::vector<at::Tensor> parts;
  for (const SequenceSegment& segment : segments) parts.push_back(full.narrow(dim, segment.start, segment.length));
  return parts.size() == 1 ? parts.front().contiguous() : at::cat(parts, dim);
}

}  // namespace behemoth
