// The measured chunk record of a ZeRO-3 run: OUT_DIR/chunks/rank-NNNNN.json, one per rank, which
// the Studio's chunk view draws (docs/zero3.md "The chunk record"). Every chunk of the rank (its
// tensors, size, padding and where its shards are), and per recorded step the bytes on each tier
// and every copy between tiers. Rewritten atomically after each logged step; keeps the first 20
// logged steps and the latest.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

namespace behemoth {

class Zero3Engine;
struct Zero3TierFigures;

struct ChunkRecordIdentity {
  int rank = 0;
  int dp_rank = 0;
  int dp = 1;
  int tp_rank = 0;
  std::string placement;
};

std::filesystem::path chunkRecordFile(const std::filesystem::path& out_dir, int rank);

class ChunkRecord {
 public:
  ChunkRecord(std::filesystem::path out_dir, ChunkRecordIdentity identity);
  ~ChunkRecord();
  ChunkRecord(const ChunkRecord&) = delete;
  ChunkRecord& operator=(const ChunkRecord&) = delete;

  // Adds step `step` with its figures (Zero3Engine::takeTierFigures) and rewrites the file.
  void record(int step, const Zero3Engine& engine, const Zero3TierFigures& figures);

 private:
  struct Steps;
  std::filesystem::path file_;
  ChunkRecordIdentity identity_;
  std::unique_ptr<Steps> steps_;
};

}  // namespace behemoth
