#include "backend/checkpoint/checkpoint_catalog.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace behemoth {
namespace fs = std::filesystem;
namespace {

using nlohmann::json;

constexpr const char* kLatestFile = "latest";
constexpr const char* kStepPrefix = "step-";

json readJsonFile(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(path.string() + ": missing (not a complete checkpoint)");
  std::stringstream text;
  text << in.rdbuf();
  const json value = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) throw std::invalid_argument(path.string() + ": not valid JSON (corrupted or truncated)");
  return value;
}

// The step of a directory named step-NNNNNNN, or -1.
std::int64_t stepOfName(const std::string& name) {
  if (name.rfind(kStepPrefix, 0) != 0 || name.size() == std::string(kStepPrefix).size()) return -1;
  const std::string digits = name.substr(std::string(kStepPrefix).size());
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) || digits.size() > 18) return -1;
  return std::stoll(digits);
}

// The checkpoints directory `dir` means: dir/checkpoints when it exists (an out_dir), else dir.
fs::path checkpointsFolderOf(const fs::path& dir) {
  const fs::path nested = dir / "checkpoints";
  return fs::is_directory(nested) ? nested : dir;
}

std::string readLatestName(const fs::path& folder) {
  std::ifstream in(folder / kLatestFile);
  std::string name;
  if (!in || !std::getline(in, name)) return {};
  if (stepOfName(name) < 0) throw std::invalid_argument((folder / kLatestFile).string() + ": does not name a step directory");
  return name;
}

std::int64_t directoryBytes(const fs::path& dir) {
  std::int64_t bytes = 0;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    if (entry.is_regular_file(error)) bytes += static_cast<std::int64_t>(entry.file_size(error));
  }
  return bytes;
}

// Every file the index lists is there with its recorded size.
void checkFilesPresent(const fs::path& step_dir, const CheckpointIndex& index) {
  for (const IndexedFile& file : index.files) {
    const fs::path path = step_dir / file.name;
    std::error_code error;
    const auto bytes = fs::file_size(path, error);
    if (error) throw std::invalid_argument(path.string() + ": missing (rank " + std::to_string(file.rank) + "'s file)");
    if (static_cast<std::int64_t>(bytes) != file.bytes) {
      throw std::invalid_argument(path.string() + ": " + std::to_string(bytes) + " bytes, the index records " +
                                  std::to_string(file.bytes) + (static_cast<std::int64_t>(bytes) < file.bytes ? " (truncated)" : ""));
    }
  }
}

}  // namespace

fs::path checkpointsDir(const std::string& out_dir) { return fs::path(out_dir) / "checkpoints"; }

std::string stepDirName(std::int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "%s%07lld", kStepPrefix, static_cast<long long>(step));
  return name;
}

CheckpointIndex readIndexFile(const fs::path& path) { return indexFromJson(readJsonFile(path), path.string()); }

CheckpointIndex readCheckpointIndex(const fs::path& step_dir) { return readIndexFile(step_dir / "index.json"); }

TrainingState readTrainingState(const fs::path& step_dir) {
  const fs::path path = step_dir / "state.json";
  return trainingStateFromJson(readJsonFile(path), path.string());
}

std::vector<CheckpointInfo> listCheckpoints(const std::string& out_dir) {
  std::vector<CheckpointInfo> found;
  const fs::path folder = checkpointsFolderOf(out_dir);
  std::error_code error;
  if (!fs::is_directory(folder, error)) return found;
  std::string latest;
  try {
    latest = readLatestName(folder);
  } catch (const std::invalid_argument&) {
    latest.clear();  // a damaged `latest` hides nothing else
  }
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    const std::int64_t step = stepOfName(entry.path().filename().string());
    if (step < 0 || !entry.is_directory(error)) continue;
    try {
      const TrainingState state = readTrainingState(entry.path());
      const CheckpointIndex index = readCheckpointIndex(entry.path());
      CheckpointInfo info;
      info.dir = entry.path();
      info.step = state.step;
      info.bytes = directoryBytes(entry.path());
      info.world_size = index.world_size;
      info.layout = state.layout;
      info.precision = state.precision;
      info.saved_at = state.saved_at;
      info.latest = entry.path().filename().string() == latest;
      found.push_back(std::move(info));
    } catch (const std::invalid_argument&) {
      continue;  // not a complete checkpoint: verifyCheckpoint says why
    }
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.step < b.step; });
  return found;
}

fs::path resolveCheckpoint(const std::string& out_dir, const std::string& spec) {
  fs::path step_dir;
  if (spec.empty() || spec == "latest") {
    const fs::path folder = checkpointsDir(out_dir);
    std::string latest;
    try {
      latest = fs::is_directory(folder) ? readLatestName(folder) : std::string();
    } catch (const std::invalid_argument&) {
      latest.clear();  // damaged: fall back below
    }
    if (!latest.empty() && fs::exists(folder / latest / "index.json")) {
      step_dir = folder / latest;
    } else {
      // No `latest`, or it names a checkpoint that is gone (a crash while one was replaced): the
      // newest complete checkpoint is the one to continue from.
      const auto complete = listCheckpoints(out_dir);
      if (complete.empty()) {
        throw std::invalid_argument("--resume latest: " + out_dir + " holds no checkpoint yet (train.out_dir; none was saved)");
      }
      step_dir = complete.back().dir;
    }
  } else {
    const fs::path given(spec);
    if (!fs::exists(given)) throw std::invalid_argument("--resume " + spec + ": no such checkpoint directory");
    if (fs::exists(given / "index.json")) {
      step_dir = given;
    } else {
      const fs::path folder = checkpointsFolderOf(given);
      const std::string latest = readLatestName(folder);
      if (latest.empty()) throw std::invalid_argument("--resume " + spec + ": not a checkpoint (no index.json, no latest)");
      step_dir = folder / latest;
    }
  }
  const CheckpointIndex index = readCheckpointIndex(step_dir);
  const TrainingState state = readTrainingState(step_dir);
  if (index.step != state.step) {
    throw std::invalid_argument((step_dir / "state.json").string() + ": step " + std::to_string(state.step) +
                                " differs from index.json's " + std::to_string(index.step));
  }
  checkFilesPresent(step_dir, index);
  return fs::absolute(step_dir).lexically_normal();
}

}  // namespace behemoth
