// What `behemoth checkpoint list|show|verify` print: tables for people, JSON for machines.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "backend/checkpoint/checkpoint_catalog.h"

namespace behemoth {

// The step directory PATH names: PATH itself when it holds index.json, otherwise the latest
// checkpoint of PATH as an out_dir or a checkpoints directory. Throws std::invalid_argument naming
// PATH when it is neither.
std::filesystem::path checkpointStepDir(const std::string& path);

// One row per checkpoint (oldest first, `latest` marked) and the total size.
std::string formatCheckpointList(const std::filesystem::path& where, const std::vector<CheckpointInfo>& checkpoints);
nlohmann::json checkpointListJson(const std::filesystem::path& where, const std::vector<CheckpointInfo>& checkpoints);

// The training state, the files (size, checksum) and the tensors (global shape, dtype, pieces).
std::string formatCheckpointDetails(const std::filesystem::path& dir, const CheckpointIndex& index, const TrainingState& state);
nlohmann::json checkpointDetailsJson(const std::filesystem::path& dir, const CheckpointIndex& index, const TrainingState& state);

// "ok" and what was read, or every problem line and their count.
std::string formatVerifyReport(const std::filesystem::path& dir, const VerifyReport& report);

}  // namespace behemoth
