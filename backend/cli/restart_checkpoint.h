// Where a job that `behemoth run --max-restarts` restarts continues: the newest complete checkpoint
// this job wrote, else the one it was resumed from, else nowhere (it starts over). Checkpoints that
// were already in OUT_DIR/checkpoints when the job started belong to an earlier run of the same
// out_dir and are never picked, except the one the job was resumed from.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <utility>

namespace behemoth {

struct RestartPoint {
  std::filesystem::path dir;  // the step directory, checked by resolveCheckpoint
  std::int64_t step = 0;
};

class RestartCheckpoints {
 public:
  // Notes the checkpoints OUT_DIR holds now: call before the first start.
  RestartCheckpoints(std::string out_dir, std::optional<std::filesystem::path> resumed_from);

  std::optional<RestartPoint> newest() const;

 private:
  std::string out_dir_;
  std::optional<std::filesystem::path> resumed_from_;
  std::set<std::pair<std::string, std::string>> earlier_;  // (step directory, saved_at)
};

// "checkpoints/step-0000004" for a checkpoint inside OUT_DIR, else the path as it is.
std::string checkpointForPeople(const std::filesystem::path& dir, const std::string& out_dir);

}  // namespace behemoth
