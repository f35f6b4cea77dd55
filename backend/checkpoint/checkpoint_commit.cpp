#include "backend/checkpoint/checkpoint_commit.h"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/checkpoint/durable_files.h"
#include "backend/checkpoint/rank_shard.h"

namespace behemoth {
namespace fs = std::filesystem;
namespace {

void removeOldCheckpoints(const fs::path& folder, const std::string& out_dir, const fs::path& newest, int keep) {
  // Leftovers of interrupted saves and replacements go first; no other save is in flight now.
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    const bool leftover = name.rfind(".step-", 0) == 0;
    if (leftover) fs::remove_all(entry.path(), error);
  }
  std::vector<CheckpointInfo> complete = listCheckpoints(out_dir);
  const int excess = static_cast<int>(complete.size()) - keep;
  for (int i = 0; i < excess; ++i) {
    if (fs::equivalent(complete[i].dir, newest, error)) continue;
    fs::remove_all(complete[i].dir, error);
  }
}

}  // namespace

fs::path partialCheckpointDir(const std::string& out_dir, std::int64_t step) {
  return checkpointsDir(out_dir) / ("." + stepDirName(step) + ".partial");
}

fs::path beginCheckpoint(const std::string& out_dir, std::int64_t step) {
  const fs::path partial = partialCheckpointDir(out_dir, step);
  fs::remove_all(partial);
  fs::create_directories(partial);
  return partial;
}

fs::path commitCheckpoint(const std::string& out_dir, std::int64_t step, int world_size, int keep) {
  const fs::path folder = checkpointsDir(out_dir);
  const fs::path partial = partialCheckpointDir(out_dir, step);
  const CheckpointIndex index = mergeRankManifests(partial, world_size, step);
  dieHereIfTestAsks("before_index", step);
  writeFileDurably(partial / "index.json", indexToJson(index).dump(1) + "\n");
  for (int rank = 0; rank < world_size; ++rank) fs::remove(partial / rankManifestName(rank));
  fsyncPath(partial);
  dieHereIfTestAsks("before_rename", step);
  const fs::path final_dir = folder / stepDirName(step);
  if (fs::exists(final_dir)) {
    // The same step saved again (a run resumed from an older checkpoint): the old one is moved
    // aside, not deleted, until the new one is in place; resolving `latest` falls back to the
    // newest complete checkpoint if a crash comes in between.
    const fs::path aside = folder / ("." + stepDirName(step) + ".replaced");
    fs::remove_all(aside);
    fs::rename(final_dir, aside);
  }
  fs::rename(partial, final_dir);
  fsyncPath(folder);
  dieHereIfTestAsks("before_latest", step);
  writeFileDurably(folder / "latest", stepDirName(step) + "\n");
  dieHereIfTestAsks("before_prune", step);
  removeOldCheckpoints(folder, out_dir, final_dir, keep);
  return final_dir;
}

void dieHereIfTestAsks(const char* point, std::int64_t step) {
  const char* asked = std::getenv("BEHEMOTH_TEST_KILL_IN_SAVE");
  if (asked == nullptr) return;
  const std::string request = asked;
  const auto colon = request.find(':');
  if (request.substr(0, colon) != point) return;
  if (colon != std::string::npos && request.substr(colon + 1) != std::to_string(step)) return;
  // Only on the first attempt of a run that --max-restarts restarts.
  const char* restart = std::getenv("BEHEMOTH_RESTART");
  if (restart != nullptr && std::strcmp(restart, "0") != 0) return;
  std::raise(SIGKILL);
}

}  // namespace behemoth
