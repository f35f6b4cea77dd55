// `behemoth run --resume` with a damaged checkpoint or another model: exit 1, one line on stderr
// naming the file or the tensor, and nothing the user saved is touched -- the checkpoints, `latest`
// and metrics.jsonl stay byte for byte what they were.
#include <gtest/gtest.h>

#include <filesystem>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/checkpoint/rank_shard.h"
#include "backend/checkpoint/safetensors.h"
#include "tests/cli/cli_test_support.h"
#include "tests/support/checkpoint_fixture.h"
#include "tests/support/command.h"

namespace behemoth {
namespace {

namespace fs = std::filesystem;

struct SavedRun {
  std::string project;
  std::string out_dir;
  fs::path step_dir;
};

SavedRun saveTwoRankRun(const TempDir& dir) {
  SavedRun run;
  run.out_dir = dir.file("run");
  nlohmann::json project = tinyProjectJson(run.out_dir, 4);
  project["train"]["checkpoint_every"] = 2;
  run.project = dir.file("project.json");
  writeFile(run.project, project.dump());
  const CommandResult saved = runBehemoth({"run", run.project, "--nproc", "2", "--no-history"});
  EXPECT_EQ(saved.exit_code, 0) << saved.stderr_text;
  run.step_dir = checkpointsDir(run.out_dir) / stepDirName(4);
  return run;
}

// Every file under `dir` with its bytes.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) files[entry.path().string()] = readFile(entry.path().string());
  }
  return files;
}

void expectOneLineRefusal(const CommandResult& result, const std::string& must_contain) {
  EXPECT_EQ(result.exit_code, 1) << result.stderr_text;
  EXPECT_NE(result.stderr_text.find(must_contain), std::string::npos) << result.stderr_text;
  // One line from the launcher; worker lines carry their rank prefix and are not the message.
  std::istringstream lines(result.stderr_text);
  int messages = 0;
  for (std::string line; std::getline(lines, line);) messages += line.rfind("behemoth: ", 0) == 0 ? 1 : 0;
  EXPECT_EQ(messages, 1) << result.stderr_text;
}

TEST(CheckpointResumeErrors, ACorruptedByteIsNamedAndNothingIsTouched) {
  const TempDir dir;
  const SavedRun run = saveTwoRankRun(dir);
  const fs::path file = run.step_dir / rankFileName(1);
  const SafetensorsHeader header = SafetensorsHeader::read(file);
  flipByte(file, header.dataOffset() + 3);
  const auto before = snapshot(run.out_dir);
  const CommandResult resumed =
      runBehemoth({"run", run.project, "--nproc", "2", "--no-history", "--resume", "latest", "--set", "train.steps=6"});
  expectOneLineRefusal(resumed, file.string() + ": tensor ");
  EXPECT_NE(resumed.stderr_text.find("fails its checksum"), std::string::npos) << resumed.stderr_text;
  const auto after = snapshot(run.out_dir);
  for (const auto& [path, bytes] : before) {
    if (path.find("worker-") != std::string::npos || path.find("project.json") != std::string::npos) continue;
    ASSERT_TRUE(after.count(path)) << path << " is gone";
    EXPECT_EQ(after.at(path), bytes) << path << " changed";
  }
}

TEST(CheckpointResumeErrors, ATruncatedOrMissingFileIsRefusedBeforeLaunch) {
  const TempDir dir;
  const SavedRun run = saveTwoRankRun(dir);
  const fs::path file = run.step_dir / rankFileName(0);
  fs::resize_file(file, fs::file_size(file) / 2);
  CommandResult resumed = runBehemoth({"run", run.project, "--nproc", "2", "--no-history", "--resume"});
  expectOneLineRefusal(resumed, file.string() + ": ");
  EXPECT_NE(resumed.stderr_text.find("truncated"), std::string::npos) << resumed.stderr_text;
  EXPECT_EQ(resumed.stderr_text.find("[rank "), std::string::npos) << "no worker should have started";
  fs::remove(file);
  resumed = runBehemoth({"run", run.project, "--nproc", "2", "--no-history", "--resume", run.step_dir.string()});
  expectOneLineRefusal(resumed, file.string() + ": missing (rank 0's file)");
}

TEST(CheckpointResumeErrors, AnotherModelNamesTheTensor) {
  const TempDir dir;
  const SavedRun run = saveTwoRankRun(dir);
  const CommandResult resumed = runBehemoth({"run", run.project, "--nproc", "2", "--no-history", "--resume", "--set",
                                             "model.d_model=64", "--set", "train.steps=6"});
  expectOneLineRefusal(resumed, "another model: tensor model/");
}

}  // namespace
}  // namespace behemoth
