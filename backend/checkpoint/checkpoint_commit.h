// Making a checkpoint complete, in the order that keeps the previous one usable through a crash at
// any instant:
//   1. rank 0 creates checkpoints/.step-NNNNNNN.partial (beginCheckpoint), every rank writes its
//      files there (writeRankShard), rank 0 writes state.json;
//   2. rank 0 merges the manifests into index.json, fsyncs it and the folder, renames the folder
//      to step-NNNNNNN and fsyncs checkpoints/ (commitCheckpoint);
//   3. only then `latest` is replaced (atomically, durably), and checkpoints beyond
//      train.checkpoint_keep are removed, oldest first.
// A crash before 2 leaves a .partial folder that the next save removes; a crash between 2 and 3
// leaves `latest` on the previous checkpoint, which still exists (pruning comes last).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace behemoth {

std::filesystem::path partialCheckpointDir(const std::string& out_dir, std::int64_t step);

// Rank 0: an empty .partial folder for `step` (a stale one from a crashed save is removed).
std::filesystem::path beginCheckpoint(const std::string& out_dir, std::int64_t step);

// Rank 0, after every rank's files are in the .partial folder. Returns the final step directory.
std::filesystem::path commitCheckpoint(const std::string& out_dir, std::int64_t step, int world_size, int keep);

// Test hook (BEHEMOTH_TEST_KILL_IN_SAVE=<point>[:<step>]): the process SIGKILLs itself at that
// point of a save (of that step; without one, of any): "rank_file" (half of a rank file written),
// "before_index", "before_rename", "before_latest", "before_prune". Only on a job's first start
// (BEHEMOTH_RESTART unset or 0). Unset: nothing happens.
void dieHereIfTestAsks(const char* point, std::int64_t step);

}  // namespace behemoth
