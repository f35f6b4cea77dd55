// `behemoth run --resume` and `--max-restarts` end to end, with real workers: a worker killed
// mid-run is restarted from the newest checkpoint and the job ends with the losses, metrics and
// final weights of a run nobody interrupted; without restarts (or once they are used up) the run
// fails naming the root cause; bad --resume / --max-restarts values are one-line errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/history/history_store.h"
#include "tests/cli/cli_test_support.h"

namespace behemoth {
namespace {

using nlohmann::json;

// The tiny project, saving a checkpoint every 2 steps. Synchronous saves: when a rank begins
// step 4, the checkpoint of step 2 is complete (every rank took part in step 3 after saving), so
// which checkpoint a restart uses does not depend on timing.
json checkpointingProject(const std::string& out_dir, int steps = 6) {
  json project = tinyProjectJson(out_dir, steps);
  project["train"]["checkpoint_every"] = 2;
  project["train"]["checkpoint_async"] = false;
  return project;
}

// The step of every step event in a metrics file, in file order.
std::vector<std::int64_t> stepsIn(const std::string& metrics_path) {
  std::vector<std::int64_t> steps;
  std::istringstream lines(readFile(metrics_path));
  for (std::string line; std::getline(lines, line);) {
    const json event = json::parse(line);
    if (event.value("event", "") == "step") steps.push_back(event.at("step").get<std::int64_t>());
  }
  return steps;
}

std::vector<std::int64_t> oneToN(int n) {
  std::vector<std::int64_t> steps(static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k) steps[static_cast<std::size_t>(k)] = k + 1;
  return steps;
}

int linesOf(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

// Every tensor of the two final checkpoints, piece by piece, is the same bytes (same layout: a
// resumed run is bitwise the uninterrupted one).
void expectSameFinalCheckpoint(const std::string& out_a, const std::string& out_b) {
  const std::vector<CheckpointInfo> a = listCheckpoints(out_a);
  const std::vector<CheckpointInfo> b = listCheckpoints(out_b);
  ASSERT_FALSE(a.empty()) << out_a;
  ASSERT_FALSE(b.empty()) << out_b;
  ASSERT_EQ(a.back().step, b.back().step);
  const CheckpointIndex index_a = readCheckpointIndex(a.back().dir);
  const CheckpointIndex index_b = readCheckpointIndex(b.back().dir);
  ASSERT_FALSE(index_a.tensors.empty());
  ASSERT_EQ(index_a.tensors.size(), index_b.tensors.size());
  for (const IndexedTensor& tensor : index_a.tensors) {
    const IndexedTensor* other = index_b.find(tensor.name);
    ASSERT_NE(other, nullptr) << tensor.name;
    ASSERT_EQ(tensor.pieces.size(), other->pieces.size()) << tensor.name;
    for (std::size_t k = 0; k < tensor.pieces.size(); ++k) {
      EXPECT_EQ(tensor.pieces[k].checksum, other->pieces[k].checksum) << tensor.name << " piece " << k;
    }
  }
}

TEST(RunRestart, AKilledWorkerIsRestartedFromTheNewestCheckpointAndTheJobEndsAsIfUninterrupted) {
  TempDir dir;
  writeFile(dir.file("plain.json"), checkpointingProject(dir.file("plain")).dump());
  writeFile(dir.file("killed.json"), checkpointingProject(dir.file("killed")).dump());
  const CommandResult plain = runBehemoth({"run", dir.file("plain.json"), "--nproc", "2", "--no-history"});
  ASSERT_EQ(plain.exit_code, 0) << plain.stderr_text;

  const std::string db = dir.file("history.sqlite");
  // The case: --max-restarts 2, one worker killed mid-run (one restart used).
  const CommandResult run = runBehemoth({"run", dir.file("killed.json"), "--nproc", "2", "--max-restarts", "2", "--history", db},
                                        std::chrono::seconds(180), {"BEHEMOTH_TEST_KILL_AT=1:3"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("behemoth: rank 1 was killed by signal 9 (SIGKILL); restarting from "
                                 "checkpoints/step-0000002 (restart 1 of 2)\n"),
            std::string::npos)
      << run.stderr_text;

  // metrics.jsonl continued: every step once, with the losses of the uninterrupted run.
  EXPECT_EQ(stepsIn(dir.file("killed/metrics.jsonl")), oneToN(6));
  EXPECT_EQ(lossesIn(dir.file("killed/metrics.jsonl")), lossesIn(dir.file("plain/metrics.jsonl")));
  expectSameFinalCheckpoint(dir.file("plain"), dir.file("killed"));

  HistoryStore history(db);
  const std::vector<RunRecord> runs = history.listRuns();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].outcome, RunOutcome::completed);
  EXPECT_EQ(runs[0].restarts, 1);
  EXPECT_EQ(runs[0].logged_steps, 6);
  const CommandResult show = runBehemoth({"history", "--db", db, "show", std::to_string(runs[0].id)});
  EXPECT_NE(show.stdout_text.find("\nrestarts         1\n"), std::string::npos) << show.stdout_text;
}

TEST(RunRestart, TwoRestartsFromTwoCheckpointsStillEndAsIfUninterrupted) {
  TempDir dir;
  writeFile(dir.file("plain.json"), checkpointingProject(dir.file("plain"), 8).dump());
  writeFile(dir.file("faulty.json"), checkpointingProject(dir.file("faulty"), 8).dump());
  const CommandResult plain = runBehemoth({"run", dir.file("plain.json"), "--nproc", "2", "--no-history"});
  ASSERT_EQ(plain.exit_code, 0) << plain.stderr_text;
  // The first start loses rank 1 as it begins step 4; the second (from step 2) fails on rank 0 as it
  // begins step 6; the third (from step 4) finishes.
  const CommandResult run =
      runBehemoth({"run", dir.file("faulty.json"), "--nproc", "2", "--max-restarts", "2", "--no-history"},
                  std::chrono::seconds(240), {"BEHEMOTH_TEST_KILL_AT=1:3", "BEHEMOTH_TEST_FAIL_AT=0:5:1"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("restarting from checkpoints/step-0000002 (restart 1 of 2)"), std::string::npos)
      << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("behemoth: rank 0: index out of range in self"), std::string::npos) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("restarting from checkpoints/step-0000004 (restart 2 of 2)"), std::string::npos)
      << run.stderr_text;
  EXPECT_EQ(stepsIn(dir.file("faulty/metrics.jsonl")), oneToN(8));
  EXPECT_EQ(lossesIn(dir.file("faulty/metrics.jsonl")), lossesIn(dir.file("plain/metrics.jsonl")));
  expectSameFinalCheckpoint(dir.file("plain"), dir.file("faulty"));
}

TEST(RunRestart, AKillWhileBackgroundSavesRunStillEndsAsIfUninterrupted) {
  // A checkpoint every step, written in the background: the kill may land while one is being
  // written. Whichever checkpoint the restart finds complete, the job must end the same.
  TempDir dir;
  json project = tinyProjectJson(dir.file("plain"));
  project["train"]["checkpoint_every"] = 1;
  writeFile(dir.file("plain.json"), project.dump());
  project["train"]["out_dir"] = dir.file("killed");
  writeFile(dir.file("killed.json"), project.dump());
  const CommandResult plain = runBehemoth({"run", dir.file("plain.json"), "--nproc", "2", "--no-history"});
  ASSERT_EQ(plain.exit_code, 0) << plain.stderr_text;
  const CommandResult run = runBehemoth({"run", dir.file("killed.json"), "--nproc", "2", "--max-restarts", "1", "--no-history"},
                                        std::chrono::seconds(180), {"BEHEMOTH_TEST_KILL_AT=1:4"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("behemoth: rank 1 was killed by signal 9 (SIGKILL); restarting from "), std::string::npos)
      << run.stderr_text;
  EXPECT_EQ(stepsIn(dir.file("killed/metrics.jsonl")), oneToN(6));
  EXPECT_EQ(lossesIn(dir.file("killed/metrics.jsonl")), lossesIn(dir.file("plain/metrics.jsonl")));
  expectSameFinalCheckpoint(dir.file("plain"), dir.file("killed"));
}

TEST(RunRestart, WithoutMaxRestartsAKilledWorkerFailsTheRunNamingIt) {
  TempDir dir;
  writeFile(dir.file("p.json"), checkpointingProject(dir.file("out")).dump());
  const std::string db = dir.file("history.sqlite");
  const CommandResult run = runBehemoth({"run", dir.file("p.json"), "--nproc", "2", "--history", db},
                                        std::chrono::seconds(120), {"BEHEMOTH_TEST_KILL_AT=1:3"});
  EXPECT_EQ(run.exit_code, 1) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("behemoth: run failed: rank 1: rank 1 was killed by signal 9 (SIGKILL)"), std::string::npos)
      << run.stderr_text;
  EXPECT_EQ(run.stderr_text.find("restarting"), std::string::npos) << run.stderr_text;
  const std::vector<RunRecord> runs = HistoryStore(db).listRuns();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].outcome, RunOutcome::failed);
  EXPECT_EQ(runs[0].restarts, 0);
}

TEST(RunRestart, WhenRestartsAreUsedUpTheRunFailsNamingTheRootCause) {
  TempDir dir;
  writeFile(dir.file("p.json"), checkpointingProject(dir.file("out")).dump());
  const std::string db = dir.file("history.sqlite");
  // Rank 1 fails as it begins step 4 on every start.
  const CommandResult run = runBehemoth({"run", dir.file("p.json"), "--nproc", "2", "--max-restarts", "1", "--history", db},
                                        std::chrono::seconds(180), {"BEHEMOTH_TEST_FAIL_AT=1:3:*"});
  EXPECT_EQ(run.exit_code, 1) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("(restart 1 of 1)"), std::string::npos) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("behemoth: run failed: rank 1: index out of range in self"), std::string::npos)
      << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("(after 1 of 1 restarts)\n"), std::string::npos) << run.stderr_text;
  const std::vector<RunRecord> runs = HistoryStore(db).listRuns();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].outcome, RunOutcome::failed);
  EXPECT_EQ(runs[0].restarts, 1);
  EXPECT_NE(runs[0].error.find("rank 1: index out of range in self"), std::string::npos) << runs[0].error;
}

TEST(RunRestart, AFailureBeforeTheFirstCheckpointRestartsFromTheBeginning) {
  TempDir dir;
  writeFile(dir.file("p.json"), tinyProjectJson(dir.file("out"), 4).dump());  // no checkpoint_every
  writeFile(dir.file("plain.json"), tinyProjectJson(dir.file("plain"), 4).dump());
  const CommandResult plain = runBehemoth({"run", dir.file("plain.json"), "--nproc", "2", "--no-history"});
  ASSERT_EQ(plain.exit_code, 0) << plain.stderr_text;
  const CommandResult run = runBehemoth({"run", dir.file("p.json"), "--nproc", "2", "--max-restarts", "1", "--no-history"},
                                        std::chrono::seconds(120), {"BEHEMOTH_TEST_KILL_AT=0:2"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("behemoth: rank 0 was killed by signal 9 (SIGKILL); restarting from the beginning "
                                 "(no checkpoint yet) (restart 1 of 1)"),
            std::string::npos)
      << run.stderr_text;
  EXPECT_EQ(stepsIn(dir.file("out/metrics.jsonl")), oneToN(4));
  EXPECT_EQ(lossesIn(dir.file("out/metrics.jsonl")), lossesIn(dir.file("plain/metrics.jsonl")));
}

TEST(RunRestart, ASingleRankRunWithMaxRestartsRunsAsAWorkerAndSurvivesItsCrash) {
  TempDir dir;
  writeFile(dir.file("plain.json"), checkpointingProject(dir.file("plain")).dump());
  writeFile(dir.file("p.json"), checkpointingProject(dir.file("out")).dump());
  const CommandResult plain = runBehemoth({"run", dir.file("plain.json"), "--no-history"});
  ASSERT_EQ(plain.exit_code, 0) << plain.stderr_text;
  const CommandResult run = runBehemoth({"run", dir.file("p.json"), "--max-restarts", "1", "--no-history"},
                                        std::chrono::seconds(120), {"BEHEMOTH_TEST_KILL_AT=0:3"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("behemoth: rank 0 was killed by signal 9 (SIGKILL); restarting from "
                                 "checkpoints/step-0000002 (restart 1 of 1)"),
            std::string::npos)
      << run.stderr_text;
  EXPECT_EQ(stepsIn(dir.file("out/metrics.jsonl")), oneToN(6));
  EXPECT_EQ(lossesIn(dir.file("out/metrics.jsonl")), lossesIn(dir.file("plain/metrics.jsonl")));
  expectSameFinalCheckpoint(dir.file("plain"), dir.file("out"));
}

TEST(RunRestart, ResumeLatestContinuesAFailedRunInTheSameMetricsFile) {
  TempDir dir;
  writeFile(dir.file("plain.json"), checkpointingProject(dir.file("plain")).dump());
  writeFile(dir.file("p.json"), checkpointingProject(dir.file("out")).dump());
  const CommandResult plain = runBehemoth({"run", dir.file("plain.json"), "--nproc", "2", "--no-history"});
  ASSERT_EQ(plain.exit_code, 0) << plain.stderr_text;
  const CommandResult failed = runBehemoth({"run", dir.file("p.json"), "--nproc", "2", "--no-history"},
                                           std::chrono::seconds(120), {"BEHEMOTH_TEST_FAIL_AT=1:3"});
  ASSERT_EQ(failed.exit_code, 1) << failed.stderr_text;
  const CommandResult resumed =
      runBehemoth({"run", dir.file("p.json"), "--nproc", "2", "--no-history", "--events", "--resume"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.stderr_text;
  // run_resumed follows run_started and names the checkpoint.
  std::istringstream lines(resumed.stdout_text);
  std::vector<json> events;
  for (std::string line; std::getline(lines, line);) events.push_back(json::parse(line));
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[0].at("event"), "run_started");
  EXPECT_EQ(events[1].at("event"), "run_resumed");
  EXPECT_EQ(events[1].at("step"), 2);
  EXPECT_NE(events[1].at("checkpoint").get<std::string>().find("step-0000002"), std::string::npos) << events[1];
  EXPECT_EQ(stepsIn(dir.file("out/metrics.jsonl")), oneToN(6));
  EXPECT_EQ(lossesIn(dir.file("out/metrics.jsonl")), lossesIn(dir.file("plain/metrics.jsonl")));
  expectSameFinalCheckpoint(dir.file("plain"), dir.file("out"));
}

TEST(RunRestart, ResumeInOneProcessContinuesFromAnExplicitCheckpoint) {
  TempDir dir;
  writeFile(dir.file("plain.json"), checkpointingProject(dir.file("plain")).dump());
  writeFile(dir.file("p.json"), checkpointingProject(dir.file("out")).dump());
  const CommandResult plain = runBehemoth({"run", dir.file("plain.json"), "--no-history"});
  ASSERT_EQ(plain.exit_code, 0) << plain.stderr_text;
  const CommandResult failed =
      runBehemoth({"run", dir.file("p.json"), "--no-history"}, std::chrono::seconds(120), {"BEHEMOTH_TEST_FAIL_AT=0:5"});
  ASSERT_EQ(failed.exit_code, 1) << failed.stderr_text;
  // Steps 2 and 4 were saved; resume from the older one by path.
  const CommandResult resumed = runBehemoth(
      {"run", dir.file("p.json"), "--no-history", "--resume", dir.file("out/checkpoints/step-0000002")});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.stderr_text;
  EXPECT_EQ(stepsIn(dir.file("out/metrics.jsonl")), oneToN(6));
  EXPECT_EQ(lossesIn(dir.file("out/metrics.jsonl")), lossesIn(dir.file("plain/metrics.jsonl")));
}

TEST(RunRestart, ResumeWithoutACheckpointIsOneLineNamingThePath) {
  TempDir dir;
  writeFile(dir.file("p.json"), tinyProjectJson(dir.file("out")).dump());
  for (const char* nproc : {"1", "2"}) {
    const CommandResult run = runBehemoth({"run", dir.file("p.json"), "--nproc", nproc, "--no-history", "--resume"},
                                          std::chrono::seconds(60));
    EXPECT_EQ(run.exit_code, 1) << run.stderr_text;
    EXPECT_EQ(linesOf(run.stderr_text), 1) << run.stderr_text;
    EXPECT_EQ(run.stderr_text.rfind("behemoth: ", 0), 0u) << run.stderr_text;
    EXPECT_NE(run.stderr_text.find(dir.file("out")), std::string::npos) << run.stderr_text;
    EXPECT_EQ(run.stdout_text.find("[rank"), std::string::npos) << run.stdout_text;  // no worker started
  }
  const CommandResult missing = runBehemoth(
      {"run", dir.file("p.json"), "--no-history", "--resume", dir.file("nowhere/step-0000004")}, std::chrono::seconds(60));
  EXPECT_EQ(missing.exit_code, 1) << missing.stderr_text;
  EXPECT_EQ(linesOf(missing.stderr_text), 1) << missing.stderr_text;
  EXPECT_NE(missing.stderr_text.find(dir.file("nowhere/step-0000004")), std::string::npos) << missing.stderr_text;
}

TEST(RunRestart, BadMaxRestartsIsRefusedBeforeLaunch) {
  TempDir dir;
  writeFile(dir.file("p.json"), tinyProjectJson(dir.file("out")).dump());
  const CommandResult negative =
      runBehemoth({"run", dir.file("p.json"), "--nproc", "2", "--no-history", "--max-restarts", "-1"}, std::chrono::seconds(60));
  EXPECT_EQ(negative.exit_code, 1);
  EXPECT_EQ(negative.stderr_text, "behemoth: --max-restarts must be at least 0\n");
  const CommandResult nodes = runBehemoth({"run", dir.file("p.json"), "--nnodes", "2", "--node-rank", "0", "--master",
                                           "127.0.0.1:29999", "--no-history", "--max-restarts", "1"},
                                          std::chrono::seconds(60));
  EXPECT_EQ(nodes.exit_code, 1);
  EXPECT_EQ(linesOf(nodes.stderr_text), 1) << nodes.stderr_text;
  EXPECT_NE(nodes.stderr_text.find("--max-restarts works on one node only"), std::string::npos) << nodes.stderr_text;
  EXPECT_FALSE(std::filesystem::exists(dir.file("out/metrics.jsonl")));
}

}  // namespace
}  // namespace behemoth
