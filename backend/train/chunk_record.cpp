#include "backend/train/chunk_record.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <vector>

#include "backend/checkpoint/durable_files.h"
#include "parallel/zero3/zero3_engine.h"

namespace behemoth {
namespace {

constexpr std::size_t kFirstStepsKept = 20;

nlohmann::json stepJson(int step, const Zero3TierFigures& figures) {
  nlohmann::json moves = nlohmann::json::array();
  for (const TierMove& move : figures.moves) {
    moves.push_back({{"chunk", move.chunk},
                     {"part", move.part},
                     {"from", tierName(move.from)},
                     {"to", tierName(move.to)},
                     {"bytes", move.bytes},
                     {"phase", move.phase},
                     {"stage", move.stage}});
  }
  return {{"step", step},
          {"device_bytes", figures.bytes[0]},
          {"device_peak_bytes", figures.device_peak_bytes},
          {"host_bytes", figures.bytes[1]},
          {"disk_bytes", figures.bytes[2]},
          {"moved_bytes", figures.moved_bytes},
          {"moves", std::move(moves)}};
}

}  // namespace

struct ChunkRecord::Steps {
  std::vector<nlohmann::json> first;
  nlohmann::json latest;
};

std::filesystem::path chunkRecordFile(const std::filesystem::path& out_dir, int rank) {
  char name[32];
  std::snprintf(name, sizeof name, "rank-%05d.json", rank);
  return out_dir / "chunks" / name;
}

ChunkRecord::ChunkRecord(std::filesystem::path out_dir, ChunkRecordIdentity identity)
    : file_(chunkRecordFile(out_dir, identity.rank)), identity_(std::move(identity)), steps_(std::make_unique<Steps>()) {
  std::filesystem::create_directories(file_.parent_path());
}

ChunkRecord::~ChunkRecord() = default;

void ChunkRecord::record(int step, const Zero3Engine& engine, const Zero3TierFigures& figures) {
  nlohmann::json this_step = stepJson(step, figures);
  if (steps_->first.size() < kFirstStepsKept) {
    steps_->first.push_back(std::move(this_step));
    steps_->latest = nullptr;
  } else {
    steps_->latest = std::move(this_step);
  }
  const ChunkLayout& layout = engine.layout();
  nlohmann::json chunks = nlohmann::json::array();
  for (std::size_t c = 0; c < layout.chunks().size(); ++c) {
    const ChunkSpec& spec = layout.chunks()[c];
    nlohmann::json tensors = nlohmann::json::array();
    for (const ChunkMember& m : spec.members) tensors.push_back(engine.names().at(m.tensor));
    chunks.push_back({{"index", c},
                      {"tensors", std::move(tensors)},
                      {"numel", spec.numel},
                      {"capacity", spec.capacity},
                      {"persistent", spec.persistent},
                      {"param_tier", tierName(engine.paramTier(c))},
                      {"optim_tier", tierName(engine.optimTier(c))}});
  }
  // auto placement: the non-model memory its first step traced, per stage position.
  nlohmann::json trace = nlohmann::json::array();
  for (const Zero3TracePoint& point : engine.nonModelTrace()) {
    trace.push_back({{"position", point.position},
                     {"stage", point.stage},
                     {"phase", point.phase},
                     {"peak_bytes", point.peak_bytes},
                     {"entry_bytes", point.entry_bytes},
                     {"operators", point.operators}});
  }
  nlohmann::json steps = steps_->first;
  if (!steps_->latest.is_null()) steps.push_back(steps_->latest);
  const nlohmann::json record = {{"rank", identity_.rank},
                                 {"dp_rank", identity_.dp_rank},
                                 {"dp", identity_.dp},
                                 {"tp_rank", identity_.tp_rank},
                                 {"chunk_elements", layout.chunkElements()},
                                 {"working_bytes", engine.workingBytes()},
                                 {"placement", identity_.placement},
                                 {"chunks", std::move(chunks)},
                                 {"non_model_trace", std::move(trace)},
                                 {"steps", std::move(steps)}};
  writeFileDurably(file_, record.dump(1) + "\n");
}

}  // namespace behemoth
