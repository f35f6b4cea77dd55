#include "backend/train/checkpoint_saver.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/checkpoint/checkpoint_commit.h"
#include "backend/checkpoint/durable_files.h"
#include "backend/checkpoint/rank_shard.h"
#include "backend/checkpoint/safetensors.h"
#include "parallel/activity.h"
#include "parallel/group.h"

namespace behemoth {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The pieces this rank writes, pointing at the live tensors.
std::vector<ShardPiece> piecesToWrite(const std::vector<CheckpointPart>& parts) {
  std::vector<ShardPiece> pieces;
  for (const CheckpointPart& part : parts) {
    if (!part.written_here) continue;
    if (!part.values.is_contiguous()) throw std::logic_error("checkpoint: state view " + part.name + " is not contiguous");
    const std::string dtype = safetensorsDtypeOf(part.values);
    const auto* base = static_cast<const std::byte*>(part.values.data_ptr());
    for (const SliceOfValues& slice : part.slices) {
      pieces.push_back({part.name, part.shape, dtype, slice.slice, base + slice.values_offset * part.values.element_size()});
    }
  }
  return pieces;
}

// Every rank's (busy, failed, stop) flags, maximum over the world. The flags live on the stack:
// saving allocates no tensor but the staging buffer, which the memory test counts exactly.
std::array<double, 3> agree(Group& world, std::array<double, 3> flags) {
  if (world.size() > 1) {
    at::Tensor view = at::from_blob(flags.data(), {3}, at::kDouble);
    world.allReduce(view, ReduceOp::Max);
  }
  return flags;
}

std::int64_t bytesOf(const std::vector<ShardPiece>& pieces) {
  std::int64_t bytes = 0;
  for (const auto& piece : pieces) bytes += piece.slice.numel * safetensorsElementBytes(piece.dtype);
  return bytes;
}

}  // namespace

std::string safetensorsDtypeOf(const at::Tensor& tensor) {
  switch (tensor.scalar_type()) {
    case at::kFloat: return "F32";
    case at::kBFloat16: return "BF16";
    case at::kHalf: return "F16";
    case at::kDouble: return "F64";
    case at::kLong: return "I64";
    default: throw std::invalid_argument(std::string("checkpoint: no safetensors dtype for ") + c10::toString(tensor.scalar_type()));
  }
}

struct CheckpointSaver::Job {
  std::int64_t step = 0;
  std::string reason;
  Clock::time_point started;
  double stall_s = 0.0;
  at::Tensor staging;  // async: one buffer holding every piece this rank writes
  std::vector<ShardPiece> pieces;
  std::thread writer;
  std::atomic<bool> done{false};
  std::string error;  // set before done when writing failed

  void write(const fs::path& dir, int rank, int world_size) {
    try {
      writeRankShard(dir, rank, world_size, step, pieces);
    } catch (const std::exception& failure) {
      error = failure.what();
    }
    done.store(true);
  }
};

CheckpointSaver::CheckpointSaver(std::string out_dir, Group& world, int keep, bool async)
    : out_dir_(std::move(out_dir)), world_(world), keep_(keep), async_(async) {}

CheckpointSaver::~CheckpointSaver() {
  if (job_ && job_->writer.joinable()) job_->writer.join();
}

std::vector<CheckpointSavedInfo> CheckpointSaver::save(const std::vector<CheckpointPart>& parts, const TrainingState& state,
                                                       const std::string& reason) {
  std::vector<CheckpointSavedInfo> completed;
  if (auto previous = finish()) completed.push_back(*previous);
  ActivityScope activity("saving checkpoint");
  const auto started = Clock::now();
  const fs::path partial = partialCheckpointDir(out_dir_, state.step);
  if (world_.rank() == 0) {
    beginCheckpoint(out_dir_, state.step);
    writeFileDurably(partial / "state.json", trainingStateToJson(state).dump(1) + "\n");
  }
  world_.barrier();  // the folder exists before anyone writes into it

  job_ = std::make_unique<Job>();
  job_->step = state.step;
  job_->reason = reason;
  job_->started = started;
  job_->pieces = piecesToWrite(parts);
  if (async_) {
    // Snapshot: copy every piece into one staging buffer, then let training overwrite the state.
    const std::int64_t bytes = bytesOf(job_->pieces);
    job_->staging = at::empty({bytes}, at::kByte);
    auto* cursor = static_cast<std::byte*>(job_->staging.data_ptr());
    for (ShardPiece& piece : job_->pieces) {
      const std::size_t piece_bytes = static_cast<std::size_t>(piece.slice.numel) * safetensorsElementBytes(piece.dtype);
      std::memcpy(cursor, piece.data, piece_bytes);
      piece.data = cursor;
      cursor += piece_bytes;
    }
    last_staging_bytes_ = bytes;
    job_->stall_s = secondsSince(started);
    Job* job = job_.get();
    const int rank = world_.rank();
    const int world_size = world_.size();
    job_->writer = std::thread([job, partial, rank, world_size] { job->write(partial, rank, world_size); });
    return completed;
  }
  last_staging_bytes_ = 0;
  job_->write(partial, world_.rank(), world_.size());
  CheckpointSavedInfo saved = *finish();
  saved.stall_s = secondsSince(started);
  completed.push_back(saved);
  return completed;
}

std::array<double, 3> CheckpointSaver::localFlags(bool stop_requested) const {
  const bool done = job_ && job_->done.load();
  return {job_ && !done ? 1.0 : 0.0, done && !job_->error.empty() ? 1.0 : 0.0, stop_requested ? 1.0 : 0.0};
}

CheckpointSavedInfo CheckpointSaver::commit(bool failed_somewhere) {
  if (job_->writer.joinable()) job_->writer.join();
  const std::unique_ptr<Job> job = std::move(job_);
  if (failed_somewhere) {
    throw std::runtime_error(job->error.empty() ? "checkpoint of step " + std::to_string(job->step) + " failed on another rank"
                                                : "checkpoint of step " + std::to_string(job->step) + ": " + job->error);
  }
  CheckpointSavedInfo info;
  info.step = job->step;
  info.stall_s = job->stall_s;
  info.async = async_;
  info.reason = job->reason;
  if (world_.rank() == 0) {
    const fs::path final_dir = commitCheckpoint(out_dir_, job->step, world_.size(), keep_);
    info.path = final_dir.string();
    for (const auto& entry : fs::directory_iterator(final_dir)) info.bytes += static_cast<std::int64_t>(entry.file_size());
  }
  info.write_s = secondsSince(job->started);
  return info;
}

CheckpointSaver::StepEnd CheckpointSaver::stepEnd(bool stop_requested) {
  // One all-reduce per step carries the stop request and, while a save is in flight, whether
  // every writer is done and whether one failed.
  const auto flags = agree(world_, localFlags(stop_requested));
  StepEnd end;
  end.stop = flags[2] > 0;
  if (job_ && flags[0] == 0) end.saved = commit(flags[1] > 0);
  return end;
}

std::optional<CheckpointSavedInfo> CheckpointSaver::finish() {
  if (!job_) return std::nullopt;
  // Every rank waits for its own writer, then one all-reduce says whether any failed.
  if (job_->writer.joinable()) job_->writer.join();
  return commit(agree(world_, localFlags(false))[1] > 0);
}

}  // namespace behemoth
