// One rank's file of a checkpoint: rank-NNNNN.safetensors with the pieces it holds, and beside it,
// until rank 0 merges them into index.json, rank-NNNNN.json: a one-file index of those pieces
// (their slices and checksums). No LibTorch: pieces are raw bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "backend/checkpoint/checkpoint_format.h"

namespace behemoth {

struct ShardPiece {
  std::string tensor;                // global name
  std::vector<std::int64_t> shape;   // global shape
  std::string dtype;                 // safetensors dtype name
  TensorSlice slice;
  const std::byte* data = nullptr;   // slice.numel elements
};

std::string rankFileName(int rank);      // "rank-00003.safetensors"
std::string rankManifestName(int rank);  // "rank-00003.json"

// Writes both files into `dir` and fsyncs them; the manifest is written last (atomically), so its
// presence means the data file is complete. Returns the data file's bytes.
std::int64_t writeRankShard(const std::filesystem::path& dir, int rank, int world_size, std::int64_t step,
                            const std::vector<ShardPiece>& pieces);

// Rank 0 after every rank's writeRankShard: the index of all pieces. Throws naming a missing or
// unreadable manifest.
CheckpointIndex mergeRankManifests(const std::filesystem::path& dir, int world_size, std::int64_t step);

}  // namespace behemoth
