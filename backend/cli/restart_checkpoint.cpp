#include "backend/cli/restart_checkpoint.h"

#include <stdexcept>
#include <vector>

#include "backend/checkpoint/checkpoint_catalog.h"

namespace behemoth {
namespace {

namespace fs = std::filesystem;

std::string normalized(const fs::path& path) {
  std::error_code ignored;
  const fs::path canonical = fs::weakly_canonical(path, ignored);
  return (canonical.empty() ? path : canonical).lexically_normal().string();
}

// A checkpoint that resolveCheckpoint accepts (index, state and every rank file present).
bool usable(const std::string& out_dir, const fs::path& dir) {
  try {
    resolveCheckpoint(out_dir, dir.string());
    return true;
  } catch (const std::invalid_argument&) {
    return false;
  }
}

}  // namespace

RestartCheckpoints::RestartCheckpoints(std::string out_dir, std::optional<fs::path> resumed_from)
    : out_dir_(std::move(out_dir)), resumed_from_(std::move(resumed_from)) {
  for (const CheckpointInfo& info : listCheckpoints(out_dir_)) earlier_.emplace(normalized(info.dir), info.saved_at);
}

std::optional<RestartPoint> RestartCheckpoints::newest() const {
  const std::vector<CheckpointInfo> listed = listCheckpoints(out_dir_);
  const std::string resumed = resumed_from_ ? normalized(*resumed_from_) : std::string();
  for (auto info = listed.rbegin(); info != listed.rend(); ++info) {
    const std::string dir = normalized(info->dir);
    const bool this_jobs = earlier_.count({dir, info->saved_at}) == 0 || dir == resumed;
    if (this_jobs && usable(out_dir_, info->dir)) return RestartPoint{info->dir, info->step};
  }
  // Nothing saved yet since the job resumed (perhaps from another out_dir): the same checkpoint again.
  if (resumed_from_ && usable(out_dir_, *resumed_from_)) {
    return RestartPoint{*resumed_from_, readTrainingState(*resumed_from_).step};
  }
  return std::nullopt;
}

std::string checkpointForPeople(const fs::path& dir, const std::string& out_dir) {
  const fs::path inside = fs::path(normalized(dir)).lexically_relative(normalized(out_dir));
  if (inside.empty() || *inside.begin() == "..") return dir.string();
  return inside.string();
}

}  // namespace behemoth
