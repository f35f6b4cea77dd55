#include "backend/checkpoint/rank_shard.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>
#include <stdexcept>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/checkpoint/checkpoint_commit.h"
#include "backend/checkpoint/checksum.h"
#include "backend/checkpoint/durable_files.h"
#include "backend/checkpoint/safetensors.h"

namespace behemoth {
namespace fs = std::filesystem;

std::string rankFileName(int rank) {
  char name[40];
  std::snprintf(name, sizeof name, "rank-%05d.safetensors", rank);
  return name;
}

std::string rankManifestName(int rank) {
  char name[40];
  std::snprintf(name, sizeof name, "rank-%05d.json", rank);
  return name;
}

std::int64_t writeRankShard(const fs::path& dir, int rank, int world_size, std::int64_t step,
                            const std::vector<ShardPiece>& pieces) {
  const std::string file_name = rankFileName(rank);
  // Keys: the tensor's name; a second slice of the same tensor (GPT's qkv blocks) gets "@1", ...
  std::map<std::string, int> seen;
  std::vector<SafetensorsEntry> entries;
  CheckpointIndex manifest;
  manifest.step = step;
  manifest.world_size = world_size;
  for (const ShardPiece& piece : pieces) {
    const int repeat = seen[piece.tensor]++;
    SafetensorsEntry entry;
    entry.key = repeat == 0 ? piece.tensor : piece.tensor + "@" + std::to_string(repeat);
    entry.dtype = piece.dtype;
    entry.shape = {piece.slice.numel};
    entries.push_back(entry);
    IndexedTensor tensor;
    tensor.name = piece.tensor;
    tensor.shape = piece.shape;
    tensor.dtype = piece.dtype;
    const std::size_t bytes = static_cast<std::size_t>(piece.slice.numel) * safetensorsElementBytes(piece.dtype);
    tensor.pieces.push_back({file_name, entry.key, piece.slice, checksumOf(piece.data, bytes)});
    manifest.tensors.push_back(std::move(tensor));
  }
  const std::string header = SafetensorsHeader::serialize(entries, {{"format", "behemoth-checkpoint"},
                                                                    {"rank", std::to_string(rank)},
                                                                    {"step", std::to_string(step)}});
  SequentialFileWriter writer(dir / file_name);
  StreamingChecksum whole;
  writer.write(header.data(), header.size());
  whole.update(header.data(), header.size());
  std::int64_t bytes = static_cast<std::int64_t>(header.size());
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const std::size_t piece_bytes = static_cast<std::size_t>(entries[i].end - entries[i].begin);
    writer.write(pieces[i].data, piece_bytes);
    whole.update(pieces[i].data, piece_bytes);
    bytes += static_cast<std::int64_t>(piece_bytes);
    if (i == pieces.size() / 2) dieHereIfTestAsks("rank_file", step);
  }
  writer.finish();
  manifest.files.push_back({file_name, rank, bytes, whole.text()});
  writeFileDurably(dir / rankManifestName(rank), indexToJson(manifest).dump() + "\n");
  return bytes;
}

CheckpointIndex mergeRankManifests(const fs::path& dir, int world_size, std::int64_t step) {
  CheckpointIndex index;
  index.step = step;
  index.world_size = world_size;
  std::map<std::string, IndexedTensor> tensors;
  for (int rank = 0; rank < world_size; ++rank) {
    const fs::path path = dir / rankManifestName(rank);
    if (!fs::exists(path)) throw std::runtime_error(path.string() + ": missing (rank " + std::to_string(rank) + " did not finish its file)");
    const CheckpointIndex part = readIndexFile(path);
    index.files.insert(index.files.end(), part.files.begin(), part.files.end());
    for (const IndexedTensor& tensor : part.tensors) {
      auto [it, inserted] = tensors.emplace(tensor.name, tensor);
      if (!inserted) it->second.pieces.insert(it->second.pieces.end(), tensor.pieces.begin(), tensor.pieces.end());
    }
  }
  for (auto& [name, tensor] : tensors) index.tensors.push_back(std::move(tensor));
  return index;
}

}  // namespace behemoth
