// What the chunk view draws, computed without painting: every ZeRO-3 chunk of one rank as a row
// (its tensors, size, padding, the tiers of its parameter and optimizer shards) and, for a
// recorded run, each tier copy of a step at its place in the step's use sequence. Two sources:
// the plan (planChunks, memory/chunk_plan.h) and the engine's measured record
// (OUT_DIR/chunks/rank-NNNNN.json, docs/zero3.md). Tests read these rows; the widget only paints.
#pragma once

#include <QString>
#include <QStringList>

#include <cstdint>
#include <string>
#include <vector>

#include "memory/chunk_placement.h"
#include "memory/chunk_plan.h"

namespace behemoth::ui {

// One tier copy of a chunk's part in a recorded step.
struct ChunkMove {
  std::string part;   // "param", "grad" or "optim"
  Tier from = Tier::device;
  Tier to = Tier::device;
  std::int64_t bytes = 0;
  std::string phase;  // "forward", "backward" or "update"
  std::string stage;  // "embed", "block N", "head" or "update"
};

// One recorded step's per-tier totals, and its moves per chunk.
struct ChunkStep {
  int step = 0;
  std::int64_t device_bytes = 0;
  std::int64_t device_peak_bytes = 0;
  std::int64_t host_bytes = 0;
  std::int64_t disk_bytes = 0;
  std::int64_t moved_bytes = 0;
  std::vector<std::vector<ChunkMove>> moves;  // index = chunk row
};

struct ChunkRow {
  int index = 0;
  std::vector<std::string> tensors;  // in packing order
  std::vector<std::int64_t> tensor_numels;  // per tensor when known (the plan); empty: unknown
  std::int64_t numel = 0;     // elements of its tensors
  std::int64_t capacity = 0;  // elements allocated (numel + padding)
  bool persistent = false;
  Tier param_tier = Tier::device;
  Tier optim_tier = Tier::device;
  std::int64_t padding() const { return capacity - numel; }
  double paddingFraction() const { return capacity > 0 ? double(padding()) / double(capacity) : 0.0; }
};

enum class ChunkSource { plan, measured };

struct ChunkChart {
  ChunkSource source = ChunkSource::plan;
  QString title;        // "Chunks of rank 0 — plan" / "... — measured"
  QString source_text;  // which plan or which record file, in words
  QString summary;      // count, size, padding, bytes per tier, moved per step
  int rank = 0;
  int dp = 1;
  int working_bytes = 4;
  std::int64_t chunk_elements = 0;
  std::string placement = "static";
  std::vector<ChunkRow> rows;
  std::vector<ChunkStep> steps;  // measured only, in the record's order
  QString message;               // why there is nothing to draw (rows empty)
  bool drawable() const { return !rows.empty(); }
  bool measured() const { return source == ChunkSource::measured; }
  const ChunkStep* findStep(int step) const;
};

// "device", "host", "disk" (the record's words); throws std::invalid_argument otherwise.
Tier tierFromRecordName(const std::string& name);
// Bytes a chunk's shard holds per rank: the parameter shard S*wb, and the optimizer shard: fp32
// gradient and two AdamW moments (S*12), plus a separate fp32 master (S*4) under bf16, under
// auto placement, or where the parameter and optimizer shards live on different tiers.
std::int64_t paramShardBytes(const ChunkRow& row, int dp, int working_bytes);
std::int64_t optimShardBytes(const ChunkRow& row, int dp, int working_bytes, const std::string& placement);

// The use sequence of a step of a model with `blocks` transformer blocks, as (phase, stage)
// labels: forward embed, block 0 .. n-1, head; backward head, block n-1 .. 0, embed; update.
struct UseStage {
  std::string phase;
  std::string stage;
  QString label;  // "F embed", "B block 1", "update"
};
std::vector<UseStage> stepUseSequence(int blocks);
// Transformer blocks a chart's rows and moves mention ("blocks.N." tensors, "block N" stages).
int blocksOf(const ChunkChart& chart);
// Where a move sits in stepUseSequence(blocks), or -1 when its phase and stage are not in it.
int useIndexOf(const std::vector<UseStage>& sequence, const ChunkMove& move);

// The plan's chunks of one rank (every dp rank of a tp group holds the same shard sizes).
ChunkChart chartFromPlan(const ChunkPlan& plan, int dp, int working_bytes, const std::string& placement,
                         const QString& source_text);
// Fills each row's tensor_numels from the planner's tensor list (memory/chunk_plan.h
// plannedTensors) where every name is known and the counts add up to the row's numel.
void applyTensorNumels(ChunkChart& chart, const std::vector<PlannedTensor>& tensors);

// OUT_DIR/chunks/rank-NNNNN.json.
std::string chunkRecordPath(const std::string& out_dir, int rank);
// The ranks with a record under OUT_DIR/chunks, ascending (none when the folder is missing).
std::vector<int> recordedChunkRanks(const std::string& out_dir);
// Parses one rank's record. Throws std::runtime_error with one line naming the file and the
// field ("PATH: chunks[2].param_tier: expected device, host or disk, got 'gpu'").
ChunkChart readChunkRecord(const std::string& path);

// A tooltip for a row: its tensors (with element counts when known), size, padding, shard
// bytes per tier, and the moves of the shown step.
QString rowToolTip(const ChunkChart& chart, std::size_t row, const ChunkStep* step);

// "1.00 MiB", "48.0 KiB", "512 B" (binary units: chunk sizes are set in MiB).
QString binaryBytes(double bytes);

}  // namespace behemoth::ui
