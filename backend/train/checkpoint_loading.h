// Loading a checkpoint into whatever layout this run has: each rank reads, from the stored pieces
// that overlap the slices it holds, only those pieces (each checked against its checksum), and
// copies the overlap into its live state. The layout that wrote the checkpoint does not matter.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "backend/checkpoint/checkpoint_format.h"
#include "backend/train/checkpoint_parts.h"

namespace behemoth {

// Refuses (std::invalid_argument, one line naming the checkpoint file or tensor) a checkpoint of
// another model -- the first "model/" tensor whose name or shape differs -- or of another
// precision, before anything is read.
void checkCheckpointMatches(const std::filesystem::path& step_dir, const CheckpointIndex& index, const TrainingState& state,
                            const std::vector<CheckpointPart>& parts, const std::vector<std::string>& model_tensor_names,
                            const std::vector<std::vector<std::int64_t>>& model_tensor_shapes, const std::string& precision);

// Fills every part from the checkpoint. Throws std::invalid_argument naming the file (and tensor)
// for a checksum mismatch, a truncated or unreadable file, or a slice the checkpoint does not cover.
// Returns the bytes read.
std::int64_t loadCheckpointParts(const std::filesystem::path& step_dir, const CheckpointIndex& index,
                                 const std::vector<CheckpointPart>& parts);

}  // namespace behemoth
