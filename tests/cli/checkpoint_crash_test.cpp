// Crash safety: 20 runs of a 2-rank job are SIGKILLed (launcher and workers together) at a
// moment drawn at random, or at one of the five points of a save (half a rank file written; before
// index.json; before the rename; before `latest`; before old checkpoints are pruned). After each
// kill (at a save point: during the second save): if any checkpoint had been completed, `latest` still resolves to a checkpoint that verifies
// byte for byte; `behemoth run --resume latest` (or a fresh run when nothing was saved) finishes;
// and its final checkpoint holds bitwise the state of the run that was never killed, with every
// step logged once and the same final loss.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>
#include <sstream>
#include <filesystem>
#include <random>
#include <thread>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "tests/cli/cli_test_support.h"
#include "tests/support/background_command.h"
#include "tests/support/command.h"

namespace behemoth {
namespace {

namespace fs = std::filesystem;

constexpr int kSteps = 12;
constexpr int kRuns = 20;
const char* const kSavePoints[] = {"rank_file", "before_index", "before_rename", "before_latest", "before_prune"};

std::string writeProject(const TempDir& dir, const std::string& name) {
  nlohmann::json project = tinyProjectJson(dir.file(name), kSteps);
  project["train"]["checkpoint_every"] = 2;
  project["train"]["checkpoint_keep"] = 2;
  const std::string path = dir.file(name + ".json");
  writeFile(path, project.dump());
  return path;
}

std::vector<std::string> runArgs(const std::string& project) {
  return {"run", project, "--nproc", "2", "--no-history", "--events"};
}

// Piece checksums of every tensor of a checkpoint: equal maps mean bitwise equal state.
std::map<std::string, std::vector<std::string>> pieceChecksums(const fs::path& step_dir) {
  std::map<std::string, std::vector<std::string>> sums;
  for (const IndexedTensor& tensor : readCheckpointIndex(step_dir).tensors) {
    for (const StoredPiece& piece : tensor.pieces) sums[tensor.name].push_back(piece.key + "=" + piece.checksum);
    std::sort(sums[tensor.name].begin(), sums[tensor.name].end());
  }
  return sums;
}

std::vector<std::int64_t> loggedSteps(const std::string& metrics) {
  std::vector<std::int64_t> steps;
  std::istringstream lines(readFile(metrics));
  for (std::string line; std::getline(lines, line);) {
    const auto event = nlohmann::json::parse(line);
    if (event.value("event", "") == "step") steps.push_back(event.at("step").get<std::int64_t>());
  }
  return steps;
}

bool savedAnything(const std::string& events_path) {
  return readFile(events_path).find("\"checkpoint_saved\"") != std::string::npos;
}

class CheckpointCrash : public testing::TestWithParam<int> {};

TEST_P(CheckpointCrash, AKilledRunResumesToTheSameState) {
  const int run_index = GetParam();
  const TempDir dir;
  const std::string reference_project = writeProject(dir, "reference");
  const auto reference_start = std::chrono::steady_clock::now();
  const CommandResult reference = runBehemoth(runArgs(reference_project));
  const double reference_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - reference_start).count();
  ASSERT_EQ(reference.exit_code, 0) << reference.stderr_text;
  const fs::path reference_final = checkpointsDir(dir.file("reference")) / stepDirName(kSteps);

  const std::string project = writeProject(dir, "crashed");
  const std::string out_dir = dir.file("crashed");
  const bool at_save_point = run_index < 5;
  {
    std::vector<std::string> args = runArgs(project);
    if (at_save_point) {
      // The workers inherit the environment of the launcher.
      // At the second save (step 4), so that a complete checkpoint (step 2) must survive it.
      ::setenv("BEHEMOTH_TEST_KILL_IN_SAVE", (std::string(kSavePoints[run_index]) + ":4").c_str(), 1);
    }
    BackgroundCommand job(behemothExecutable(), args, dir.file("crashed-events"));
    ::unsetenv("BEHEMOTH_TEST_KILL_IN_SAVE");
    if (at_save_point) {
      // The point kills the rank that reaches it; the launcher then stops the other. Wait for it.
      ASSERT_TRUE(pollUntil([&] { return !job.running(); }, std::chrono::seconds(120)));
    } else {
      std::mt19937 random(1000 + run_index);
      const double fraction = std::uniform_real_distribution<double>(0.15, 0.95)(random);
      std::this_thread::sleep_for(std::chrono::duration<double>(fraction * reference_seconds));
      job.killGroup();
    }
  }
  SCOPED_TRACE(at_save_point ? std::string("killed at save point ") + kSavePoints[run_index]
                             : "killed at a random moment (run " + std::to_string(run_index) + ")");

  const bool saved_before = savedAnything(dir.file("crashed-events"));
  if (at_save_point) EXPECT_TRUE(saved_before) << "the first save completed before the second was killed";
  const std::vector<CheckpointInfo> left = listCheckpoints(out_dir);
  if (saved_before) {
    ASSERT_FALSE(left.empty()) << "a checkpoint had been completed, none is usable now";
  }
  std::vector<std::string> again = runArgs(project);
  if (!left.empty()) {
    const fs::path latest = resolveCheckpoint(out_dir, "latest");
    const VerifyReport report = verifyCheckpoint(latest);
    EXPECT_TRUE(report.ok()) << latest << ": " << (report.problems.empty() ? "" : report.problems.front());
    again.push_back("--resume");
    again.push_back("latest");
  }
  const CommandResult resumed = runBehemoth(again);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.stderr_text;

  const fs::path final_dir = checkpointsDir(out_dir) / stepDirName(kSteps);
  ASSERT_TRUE(fs::exists(final_dir / "index.json"));
  EXPECT_EQ(pieceChecksums(final_dir), pieceChecksums(reference_final)) << "the final state differs";
  std::vector<std::int64_t> expected_steps(kSteps);
  std::iota(expected_steps.begin(), expected_steps.end(), 1);
  EXPECT_EQ(loggedSteps(out_dir + "/metrics.jsonl"), expected_steps);
  EXPECT_EQ(lossesIn(out_dir + "/metrics.jsonl").back(), lossesIn(dir.file("reference") + "/metrics.jsonl").back());
}

INSTANTIATE_TEST_SUITE_P(Runs, CheckpointCrash, testing::Range(0, kRuns),
                         [](const testing::TestParamInfo<int>& info) {
                           return info.param < 5 ? std::string("at_") + kSavePoints[info.param]
                                                 : "random_" + std::to_string(info.param);
                         });

}  // namespace
}  // namespace behemoth
