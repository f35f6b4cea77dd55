// Ctrl-C (SIGINT) or a scheduler's SIGTERM is a graceful stop: the workers finish the step, write
// a final checkpoint and exit; the run is recorded as stopped, and `--resume` continues it.
#include <gtest/gtest.h>

#include <signal.h>

#include <nlohmann/json.hpp>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/history/history_store.h"
#include "tests/cli/cli_test_support.h"
#include "tests/support/background_command.h"

namespace behemoth {
namespace {

void expectAGracefulStop(const std::string& nproc, int signal_number) {
  TempDir dir;
  writeFile(dir.file("p.json"), tinyProjectJson(dir.file("out"), 100000).dump());
  const std::string db = dir.file("history.sqlite");
  const std::string log = dir.file("launcher.log");
  BackgroundCommand launcher(behemothExecutable(), {"run", dir.file("p.json"), "--nproc", nproc, "--history", db}, log);
  ASSERT_TRUE(pollUntil([&] { return lastRecordedStep(db).value_or(0) >= 3; }, std::chrono::seconds(240))) << readFile(log);
  ::kill(launcher.pid(), signal_number);
  ASSERT_TRUE(pollUntil([&] { return !launcher.running(); }, std::chrono::seconds(240))) << readFile(log);

  const std::string output = readFile(log);
  EXPECT_NE(output.find("behemoth: run stopped"), std::string::npos) << output;
  EXPECT_EQ(output.find("run failed"), std::string::npos) << output;
  // The stop checkpoint is complete and holds the last step the history saw.
  const std::vector<CheckpointInfo> checkpoints = listCheckpoints(dir.file("out"));
  ASSERT_EQ(checkpoints.size(), 1u) << output;
  const std::vector<RunRecord> runs = HistoryStore(db).listRuns();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].outcome, RunOutcome::stopped) << runs[0].error;
  EXPECT_EQ(checkpoints[0].step, runs[0].last_step.value_or(-1)) << output;
  EXPECT_NO_THROW(resolveCheckpoint(dir.file("out"), "latest"));
}

TEST(RunStop, SigintToTheLauncherStopsTheWorkersAfterAFinalCheckpoint) { expectAGracefulStop("2", SIGINT); }

TEST(RunStop, SigtermToASingleProcessRunStopsItAfterAFinalCheckpoint) { expectAGracefulStop("1", SIGTERM); }

}  // namespace
}  // namespace behemoth
