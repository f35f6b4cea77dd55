// Finding, listing and verifying checkpoints on disk (no LibTorch: used by the launcher before
// anything starts, by `behemoth checkpoint`, and by the Studio).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "backend/checkpoint/checkpoint_format.h"

namespace behemoth {

std::filesystem::path checkpointsDir(const std::string& out_dir);  // OUT_DIR/checkpoints
std::string stepDirName(std::int64_t step);                          // "step-0000100"

struct CheckpointInfo {
  std::filesystem::path dir;  // the step directory
  std::int64_t step = 0;
  std::int64_t bytes = 0;     // all files of the checkpoint
  int world_size = 1;
  std::string layout;         // TrainingState::layout
  std::string precision;
  std::string saved_at;
  bool latest = false;        // the one `latest` names
};

// The complete checkpoints under OUT_DIR (or a checkpoints directory itself), oldest first.
// Temporary directories of saves still running or interrupted are not listed. A directory that is
// not a checkpoint folder yields an empty list.
std::vector<CheckpointInfo> listCheckpoints(const std::string& out_dir);

// Reads a checkpoint's index.json and state.json. Throws std::invalid_argument naming the file.
CheckpointIndex readCheckpointIndex(const std::filesystem::path& step_dir);
// Any file in index form (index.json, or a rank's manifest while a save commits).
CheckpointIndex readIndexFile(const std::filesystem::path& path);
TrainingState readTrainingState(const std::filesystem::path& step_dir);

// What `--resume SPEC` means for a run writing to OUT_DIR: "latest" is the checkpoint
// OUT_DIR/checkpoints/latest names; otherwise SPEC is a step directory (or an out_dir / checkpoints
// directory, meaning its latest). Checks the index, the state and that every rank file is there
// with its recorded size (not the checksums: verifyCheckpoint reads every byte). Throws
// std::invalid_argument with one line naming the path or file.
std::filesystem::path resolveCheckpoint(const std::string& out_dir, const std::string& spec);

struct VerifyReport {
  std::vector<std::string> problems;  // one line each, naming the file (and the tensor)
  std::int64_t bytes_read = 0;
  int files_checked = 0;
  int pieces_checked = 0;
  bool ok() const { return problems.empty(); }
};

// Reads every file of the checkpoint and checks sizes, safetensors headers, every piece's and every
// file's checksum, and that the pieces of each tensor cover it exactly once.
VerifyReport verifyCheckpoint(const std::filesystem::path& step_dir);

}  // namespace behemoth
