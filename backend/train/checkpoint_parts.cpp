#include "backend/train/checkpoint_parts.h"

#include <xxhash.h>

#include <algorithm>
#include <stdexcept>

namespace behemoth {
namespace {

std::int64_t product(const std::vector<std::int64_t>& sizes, std::size_t from = 0) {
  std::int64_t n = 1;
  for (std::size_t d = from; d < sizes.size(); ++d) n *= sizes[d];
  return n;
}

// Of the identical copies of a tensor on several ranks, which one writes it: spread by name, so
// that the copies held by dp (or tp) replicas are written by all of them in parallel, each tensor
// once.
bool writesHere(const std::string& name, int replica_index, int replicas) {
  if (replicas <= 1) return true;
  const auto hash = XXH64(name.data(), name.size(), 0);
  return static_cast<int>(hash % static_cast<unsigned long long>(replicas)) == replica_index;
}

}  // namespace

std::vector<std::int64_t> globalShapeOf(const std::vector<std::int64_t>& local_shape, const ParameterPlacement& placement) {
  std::vector<std::int64_t> shape = local_shape;
  for (const GridSplit& split : placement.grid) shape.at(split.dim) = split.full_size;
  if (placement.grid.empty() && placement.sharded) shape.at(placement.dim) = placement.full_size;
  return shape;
}

std::vector<SliceOfValues> globalSlicesOf(const std::vector<std::int64_t>& local_shape,
                                          const std::vector<std::int64_t>& global_shape,
                                          const ParameterPlacement& placement, int tp_rank, int tp,
                                          std::int64_t local_begin, std::int64_t numel) {
  const std::int64_t local_end = local_begin + numel;
  std::vector<SliceOfValues> slices;
  const auto whole = [&](std::vector<std::int64_t> begin, std::vector<std::int64_t> size, std::int64_t box_local_begin) {
    // The box covers local elements [box_local_begin, box_local_begin + its numel): take the part
    // of the requested range inside it.
    TensorSlice slice;
    slice.begin = std::move(begin);
    slice.size = std::move(size);
    const std::int64_t first = std::max(local_begin, box_local_begin);
    const std::int64_t last = std::min(local_end, box_local_begin + slice.boxNumel());
    if (first >= last) return;
    slice.flat_begin = first - box_local_begin;
    slice.numel = last - first;
    slices.push_back({std::move(slice), first - local_begin});
  };
  const std::size_t dims = local_shape.size();
  if (!placement.grid.empty()) {
    // A 2D / 2.5D / 3D block: along dim 0 `interleaved` boxes (each a flat range of local rows,
    // vocabulary padding cut off), along other dims this rank's block.
    std::vector<std::int64_t> begin(dims, 0);
    std::vector<std::int64_t> size = local_shape;
    int interleaved = 1, parts0 = 1, index0 = 0;
    std::int64_t full0 = local_shape.at(0);
    for (const GridSplit& split : placement.grid) {
      if (split.dim == 0) {
        interleaved = split.interleaved;
        parts0 = split.parts;
        index0 = split.index;
        full0 = split.full_size;
        continue;
      }
      begin.at(split.dim) = split.index * local_shape.at(split.dim);
    }
    const std::int64_t block_rows = local_shape.at(0) / interleaved;
    const std::int64_t row_numel = product(local_shape, 1);
    for (int j = 0; j < interleaved; ++j) {
      const std::int64_t global_row = (j * parts0 + index0) * block_rows;
      const std::int64_t valid_rows = std::min(block_rows, full0 - global_row);
      if (valid_rows <= 0) continue;
      begin[0] = global_row;
      size[0] = valid_rows;
      whole(begin, size, j * block_rows * row_numel);
    }
    return slices;
  }
  if (!placement.sharded || tp == 1) {
    whole(std::vector<std::int64_t>(dims, 0), global_shape, 0);
    return slices;
  }
  const int d = placement.dim;
  const std::int64_t local_rows = local_shape.at(d);
  const int shards = tp / placement.replicas;  // distinct shards
  const int shard = tp_rank / placement.replicas;
  if (placement.interleaved > 1 && placement.replicas > 1) {
    throw std::invalid_argument("checkpoint: an interleaved parameter replicated over tp ranks cannot be described");
  }
  if (d != 0) {
    // Split along an inner dimension: the shard is one box, never padded (only the vocabulary,
    // split along dimension 0, is).
    if (placement.interleaved > 1 || (shard + 1) * local_rows > placement.full_size) {
      throw std::invalid_argument("checkpoint: a padded or interleaved split along dimension " + std::to_string(d) +
                                  " cannot be described");
    }
    std::vector<std::int64_t> begin(dims, 0);
    begin[d] = shard * local_rows;
    whole(std::move(begin), local_shape, 0);
    return slices;
  }
  // Split along dimension 0 in `interleaved` blocks: local block j holds global rows
  // [j * shards * b + shard * b, ... + b), b = local_rows / interleaved; rows past the unpadded size
  // are vocabulary padding. Rows are outermost, so each block's valid rows are one flat range.
  const std::int64_t block_rows = local_rows / placement.interleaved;
  const std::int64_t row_numel = product(local_shape, 1);
  for (int j = 0; j < placement.interleaved; ++j) {
    const std::int64_t global_row = j * shards * block_rows + shard * block_rows;
    const std::int64_t valid_rows = std::min(block_rows, placement.full_size - global_row);
    if (valid_rows <= 0) continue;
    std::vector<std::int64_t> begin(dims, 0);
    begin[0] = global_row;
    std::vector<std::int64_t> size = global_shape;
    size[0] = valid_rows;
    whole(std::move(begin), std::move(size), j * block_rows * row_numel);
  }
  return slices;
}

std::vector<CheckpointPart> checkpointParts(const std::vector<StateView>& views, const PartsContext& context) {
  std::vector<CheckpointPart> parts;
  for (const StateView& view : views) {
    const std::string& parameter = context.names->at(view.param);
    const ParameterPlacement& placement = context.tp_layout->placement(parameter);
    const std::vector<std::int64_t> local_shape = context.parameters->at(view.param).sizes().vec();
    CheckpointPart part;
    part.name = view.kind + "/" + parameter;
    part.shape = globalShapeOf(local_shape, placement);
    part.values = view.values;
    part.slices = globalSlicesOf(local_shape, part.shape, placement, context.tp_rank, context.tp, view.local_begin,
                                 view.values.numel());
    // Who else holds these same elements: the other dp ranks (unless ZeRO shards them) and, for a
    // parameter not split over tp, every tp rank (a GQA kv shard: the tp ranks sharing it).
    const int dp_copies = view.sharded_over_dp ? 1 : context.dp;
    const int dp_index = view.sharded_over_dp ? 0 : context.dp_rank;
    int tp_copies = !placement.sharded || context.tp == 1 ? context.tp : placement.replicas;
    int tp_index = !placement.sharded || context.tp == 1 ? context.tp_rank : context.tp_rank % placement.replicas;
    if (!placement.grid.empty()) {  // a 2D / 2.5D / 3D block: the ranks holding this same block
      tp_copies = placement.copies;
      tp_index = placement.copy_index;
    }
    const bool copy_saved_elsewhere = context.loaded_only != nullptr && context.loaded_only->at(view.param);
    part.written_here = view.saved && !copy_saved_elsewhere && writesHere(part.name, dp_index * tp_copies + tp_index, dp_copies * tp_copies);
    parts.push_back(std::move(part));
  }
  return parts;
}

}  // namespace behemoth
