// Saving checkpoints from a running trainer. Every rank writes its own pieces (nothing is gathered);
// rank 0 commits the checkpoint when all are written (backend/checkpoint/checkpoint_commit.h).
//
// Asynchronous saving (train.checkpoint_async): at the step boundary each rank copies the pieces
// it writes into one staging buffer and a background thread writes the file while training goes
// on. At most one save is in flight, so a rank holds at most its own state plus one staging
// buffer. Completion is agreed at each step end in one small all-reduce that also carries the stop
// request (SIGINT/SIGTERM), so every rank stops at the same step. Synchronous saving writes
// straight from the live tensors (no staging buffer) before training continues.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/checkpoint/checkpoint_format.h"
#include "backend/metrics/events.h"
#include "backend/train/checkpoint_parts.h"

namespace behemoth {

class Group;

class CheckpointSaver {
 public:
  CheckpointSaver(std::string out_dir, Group& world, int keep, bool async);
  ~CheckpointSaver();  // waits for a writer thread still running (the checkpoint stays partial)
  CheckpointSaver(const CheckpointSaver&) = delete;
  CheckpointSaver& operator=(const CheckpointSaver&) = delete;

  // Collective. Completes a save still in flight, then snapshots `parts` as the checkpoint of
  // state.step. Returns the saves that became complete during the call (the previous one, and this
  // one when synchronous).
  std::vector<CheckpointSavedInfo> save(const std::vector<CheckpointPart>& parts, const TrainingState& state,
                                        const std::string& reason);

  struct StepEnd {
    bool stop = false;                         // some rank was asked to stop
    std::optional<CheckpointSavedInfo> saved;  // a background save became complete
  };
  // Collective at every step end (no communication with one rank).
  StepEnd stepEnd(bool stop_requested);
  // Collective: waits for the save in flight, if any, and completes it.
  std::optional<CheckpointSavedInfo> finish();

  bool inFlight() const { return job_ != nullptr; }
  // Bytes of the staging buffer of the last asynchronous save (0 when synchronous).
  std::int64_t lastStagingBytes() const { return last_staging_bytes_; }

 private:
  struct Job;
  // This rank's (writer busy, writer failed, stop requested), for the step-end all-reduce.
  std::array<double, 3> localFlags(bool stop_requested) const;
  // Joins the writer; commits on rank 0 when no rank failed, throws on every rank when one did.
  CheckpointSavedInfo commit(bool failed_somewhere);

  std::string out_dir_;
  Group& world_;
  int keep_;
  bool async_;
  std::unique_ptr<Job> job_;
  std::int64_t last_staging_bytes_ = 0;
};

// The safetensors dtype name of a LibTorch dtype ("F32", "BF16", ...).
std::string safetensorsDtypeOf(const at::Tensor& tensor);

}  // namespace behemoth
