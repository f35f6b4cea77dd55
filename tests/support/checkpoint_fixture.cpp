#include "tests/support/checkpoint_fixture.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/checkpoint/checksum.h"
#include "backend/checkpoint/safetensors.h"

namespace behemoth {
namespace fs = std::filesystem;

namespace {

std::string readBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void writeBytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string rankFileName(int rank) {
  char name[32];
  std::snprintf(name, sizeof name, "rank-%05d.safetensors", rank);
  return name;
}

std::int64_t boxNumel(const std::vector<std::int64_t>& size) {
  std::int64_t n = 1;
  for (std::int64_t d : size) n *= d;
  return n;
}

// Distinct, recognisable values: piece p of tensor t holds t * 1000 + p * 100 + k.
std::string pieceBytes(const std::string& dtype, std::int64_t numel, int tensor, int piece) {
  std::string bytes;
  for (std::int64_t k = 0; k < numel; ++k) {
    const std::int64_t value = tensor * 1000 + piece * 100 + k;
    if (dtype == "I64") {
      bytes.append(reinterpret_cast<const char*>(&value), sizeof value);
    } else {
      const float f = static_cast<float>(value) * 0.5f;
      bytes.append(reinterpret_cast<const char*>(&f), sizeof f);
    }
  }
  return bytes;
}

}  // namespace

FixtureCheckpoint twoRankCheckpoint(std::int64_t step) {
  FixtureCheckpoint spec;
  spec.step = step;
  spec.tensors = {
      // Tensor-parallel row split (one run of elements per rank).
      {"model/attn.weight", {6, 4}, "F32", {{0, {0, 0}, {3, 4}}, {1, {3, 0}, {3, 4}}}},
      // Tensor-parallel column split (one run per row and rank).
      {"model/mlp.weight", {4, 6}, "F32", {{0, {0, 0}, {4, 3}}, {1, {0, 3}, {4, 3}}}},
      // A replicated tensor, saved once.
      {"model/ln.bias", {4}, "F32", {{0, {0}, {4}}}},
      // ZeRO: each rank owns a flat range of the whole tensor.
      {"exp_avg/model/ln.weight", {5, 3}, "F32", {{0, {0, 0}, {5, 3}, 0, 8}, {1, {0, 0}, {5, 3}, 8, 7}}},
      {"optimizer/step", {}, "I64", {{1, {}, {}}}},
  };
  return spec;
}

CheckpointIndex writeFixtureCheckpoint(const fs::path& step_dir, const FixtureCheckpoint& spec) {
  fs::create_directories(step_dir);
  CheckpointIndex index;
  index.step = spec.step;
  index.world_size = spec.world_size;
  std::map<int, std::vector<SafetensorsEntry>> entries;
  std::map<int, std::string> data;
  for (std::size_t t = 0; t < spec.tensors.size(); ++t) {
    const FixtureTensor& tensor = spec.tensors[t];
    IndexedTensor indexed{tensor.name, tensor.shape, tensor.dtype, {}};
    for (std::size_t p = 0; p < tensor.pieces.size(); ++p) {
      const FixturePiece& piece = tensor.pieces[p];
      StoredPiece stored;
      stored.file = rankFileName(piece.rank);
      stored.slice.begin = piece.begin;
      stored.slice.size = piece.size;
      stored.slice.flat_begin = piece.flat_begin;
      stored.slice.numel = piece.numel >= 0 ? piece.numel : boxNumel(piece.size) - piece.flat_begin;
      // A rank holding several pieces of one tensor keys them apart.
      int earlier = 0;
      for (std::size_t q = 0; q < p; ++q) earlier += tensor.pieces[q].rank == piece.rank;
      stored.key = tensor.name + (earlier ? "#" + std::to_string(earlier) : "");
      const std::string bytes = pieceBytes(tensor.dtype, stored.slice.numel, static_cast<int>(t), static_cast<int>(p));
      stored.checksum = checksumOf(bytes.data(), bytes.size());
      entries[piece.rank].push_back({stored.key, tensor.dtype, {stored.slice.numel}, 0, 0});
      data[piece.rank] += bytes;
      indexed.pieces.push_back(stored);
    }
    index.tensors.push_back(indexed);
  }
  for (auto& [rank, rank_entries] : entries) {
    const std::string bytes =
        SafetensorsHeader::serialize(rank_entries, {{"format", "behemoth"}, {"rank", std::to_string(rank)}}) + data[rank];
    writeBytes(step_dir / rankFileName(rank), bytes);
    index.files.push_back({rankFileName(rank), rank, static_cast<std::int64_t>(bytes.size()),
                           checksumOf(bytes.data(), bytes.size())});
  }
  std::sort(index.tensors.begin(), index.tensors.end(),
            [](const IndexedTensor& a, const IndexedTensor& b) { return a.name < b.name; });
  writeBytes(step_dir / "index.json", indexToJson(index).dump(2));

  TrainingState state;
  state.step = spec.step;
  state.optimizer_updates = spec.step;
  state.data_position = spec.step * 8;
  state.seed = 7;
  state.precision = spec.precision;
  state.world_size = spec.world_size;
  state.layout = spec.layout;
  state.engine_version = "0.1.0";
  state.saved_at = "2026-12-01T10:00:00Z";
  state.project_json = nlohmann::json{{"name", "fixture"}}.dump();
  writeBytes(step_dir / "state.json", trainingStateToJson(state).dump(2));
  return index;
}

void writeFixtureRun(const fs::path& out_dir, const std::vector<std::int64_t>& steps) {
  const fs::path folder = checkpointsDir(out_dir.string());
  for (std::int64_t step : steps) writeFixtureCheckpoint(folder / stepDirName(step), twoRankCheckpoint(step));
  if (!steps.empty()) writeBytes(folder / "latest", stepDirName(steps.back()) + "\n");
}

void rerecordFile(const fs::path& step_dir, const std::string& file) {
  CheckpointIndex index = readCheckpointIndex(step_dir);
  const std::string bytes = readBytes(step_dir / file);
  for (IndexedFile& entry : index.files) {
    if (entry.name != file) continue;
    entry.bytes = static_cast<std::int64_t>(bytes.size());
    entry.checksum = checksumOf(bytes.data(), bytes.size());
  }
  writeBytes(step_dir / "index.json", indexToJson(index).dump(2));
}

void removeKeyFromFile(const fs::path& file, const std::string& key) {
  const SafetensorsHeader header = SafetensorsHeader::read(file);
  const std::string bytes = readBytes(file);
  std::vector<SafetensorsEntry> kept;
  std::string data;
  for (const SafetensorsEntry& entry : header.entries()) {
    if (entry.key == key) continue;
    kept.push_back(entry);
    data += bytes.substr(static_cast<std::size_t>(header.dataOffset() + entry.begin),
                         static_cast<std::size_t>(entry.end - entry.begin));
  }
  if (kept.size() == header.entries().size()) throw std::runtime_error(file.string() + " has no key " + key);
  writeBytes(file, SafetensorsHeader::serialize(kept, header.metadata()) + data);
}

std::int64_t dataOffsetOf(const fs::path& file, const std::string& key) {
  const SafetensorsHeader header = SafetensorsHeader::read(file);
  const SafetensorsEntry* entry = header.find(key);
  if (!entry) throw std::runtime_error(file.string() + " has no key " + key);
  return header.dataOffset() + entry->begin;
}

void flipByte(const std::filesystem::path& file, std::int64_t offset) {
  std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
  io.seekg(offset);
  char byte = 0;
  io.read(&byte, 1);
  byte = static_cast<char>(byte ^ 0x5A);
  io.seekp(offset);
  io.write(&byte, 1);
}

}  // namespace behemoth
