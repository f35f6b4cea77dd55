// Which global positions of the sequence a rank's tokens hold under sequence parallelism (the sp
// axis). Ulysses gives rank r of n the contiguous slice [r T / n, (r + 1) T / n). Ring attention
// cuts the sequence into 2n chunks and gives rank r chunks r and 2n - 1 - r (zigzag): under the
// causal mask the early chunks attend to little and the late ones to much, so each rank gets one
// of each and no rank idles while the others finish.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "parallel/group.h"

namespace behemoth {

struct SequenceSegment {
  std::int64_t start = 0;   // global position of the segment's first token
  std::int64_t length = 0;
};
// A rank's local positions, in local order: the concatenation of its segments.
using SequenceSegments = std::vector<SequenceSegment>;

enum class SequenceSplit { contiguous, zigzag };
SequenceSplit sequenceSplitOf(const std::string& sp_mode);  // "ulysses" | "ring"

// Rank `rank` of `ranks` over a sequence of `length` tokens. Throws std::invalid_argument when the
// length does not divide (by ranks, or 2 * ranks for zigzag).
SequenceSegments sequenceShard(SequenceSplit split, std::int64_t length, int ranks, int rank);

std::int64_t totalLength(const SequenceSegments& segments);

// Local positions [offset, offset + length) of `segments`, as segments (Megatron-SP's tp slice of
// an sp shard).
SequenceSegments sliceSegments(const SequenceSegments& segments, std::int64_t offset, std::int64_t length);

// The global positions as an int64 tensor [total length].
at::Tensor positionsOf(const SequenceSegments& segments, const at::TensorOptions& options);

// The segments' positions of a full tensor along `dim`, concatenated: a rank's tokens of a batch.
at::Tensor takeSegments(const at::Tensor& full, std::int64_t dim, const SequenceSegments& segments);

// What the model needs to attend across the sp group. The group must outlive every graph built
// over it (the world owns its groups).
struct SequenceParallelContext {
  Group* group = nullptr;
  SequenceSplit split = SequenceSplit::contiguous;  // contiguous: Ulysses; zigzag: ring
  bool active() const { return group != nullptr && group->size() > 1; }
};

}  // namespace behemoth
