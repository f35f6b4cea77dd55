// A worker that fails mid-run reaches the user as one line naming the rank and what failed; the
// full text (LibTorch's backtrace) goes to the rank's log file in out_dir.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "backend/cli/error_text.h"
#include "tests/cli/cli_test_support.h"

namespace behemoth {
namespace {

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

void expectOneLineAndALog(const CommandResult& result, const std::string& out_dir, int rank) {
  EXPECT_EQ(result.exit_code, 1) << result.stderr_text;
  int failure_lines = 0;
  std::string failure;
  for (const std::string& line : linesOf(result.stderr_text)) {
    EXPECT_EQ(line.find("frame #"), std::string::npos) << "a backtrace reached the terminal: " << line;
    EXPECT_EQ(line.find("Exception raised from"), std::string::npos) << line;
    if (line.find("run failed") != std::string::npos) {
      ++failure_lines;
      failure = line;
    }
  }
  ASSERT_EQ(failure_lines, 1) << result.stderr_text;
  const std::string log = out_dir + "/worker-" + std::to_string(rank) + ".log";
  EXPECT_NE(failure.find("rank " + std::to_string(rank) + ": index out of range in self"), std::string::npos) << failure;
  EXPECT_NE(failure.find(log), std::string::npos) << failure;
  ASSERT_TRUE(std::filesystem::exists(log));
  // The log keeps what the terminal does not: LibTorch's own account of where it failed.
  EXPECT_NE(readFile(log).find("Exception raised from"), std::string::npos) << readFile(log);
}

TEST(WorkerErrors, ALibTorchErrorInALaunchedWorkerIsOneLineWithTheTraceInItsLog) {
  TempDir dir;
  writeFile(dir.file("p.json"), tinyProjectJson(dir.file("out"), 6).dump());
  const CommandResult result = runBehemoth({"run", dir.file("p.json"), "--nproc", "2", "--no-history"},
                                           std::chrono::seconds(120), {"BEHEMOTH_TEST_FAIL_AT=1:2"});
  expectOneLineAndALog(result, dir.file("out"), 1);
}

TEST(WorkerErrors, ALibTorchErrorInASingleProcessRunIsOneLineWithTheTraceInItsLog) {
  TempDir dir;
  writeFile(dir.file("p.json"), tinyProjectJson(dir.file("out"), 6).dump());
  const CommandResult result = runBehemoth({"run", dir.file("p.json"), "--no-history"}, std::chrono::seconds(120),
                                           {"BEHEMOTH_TEST_FAIL_AT=0:1"});
  expectOneLineAndALog(result, dir.file("out"), 0);
}

TEST(WorkerErrors, TheFailedRunIsRecordedWithTheOneLineError) {
  TempDir dir;
  writeFile(dir.file("p.json"), tinyProjectJson(dir.file("out"), 6).dump());
  const std::string history = dir.file("h.sqlite");
  const CommandResult result = runBehemoth({"run", dir.file("p.json"), "--nproc", "2", "--history", history},
                                           std::chrono::seconds(120), {"BEHEMOTH_TEST_FAIL_AT=1:2"});
  ASSERT_EQ(result.exit_code, 1) << result.stderr_text;
  const CommandResult shown = runBehemoth({"history", "--db", history, "list"});
  EXPECT_NE(shown.stdout_text.find("failed"), std::string::npos) << shown.stdout_text << shown.stderr_text;
}

TEST(WorkerErrors, TheRootCauseIsShownNotThePeersThatFailedBecauseItLeft) {
  const RankError launcher_view{0, "rank 0 exited with status 1"};
  const RankError peer_loss{0, "all_reduce on axis dp (64 bytes) failed: connection closed by peer (a peer rank exited or crashed): x"};
  const RankError stuck{2, "all_reduce on axis dp (64 bytes) timed out after 30 s (a peer rank is missing or stuck): x"};
  const RankError cause{1, "index out of range in self (details: out/worker-1.log)"};
  // The failing rank's report may arrive after its peers' (it was still writing).
  EXPECT_EQ(rootCause({peer_loss, stuck, cause}, launcher_view).rank, 1);
  EXPECT_EQ(rootCause({peer_loss, stuck, cause}, launcher_view).message, cause.message);
  // Only consequences reported (the cause was killed): the launcher's view.
  const RankError killed{1, "rank 1 was killed by signal 9 (SIGKILL)"};
  EXPECT_EQ(rootCause({peer_loss, stuck}, killed).message, killed.message);
  EXPECT_EQ(rootCause({}, killed).message, killed.message);
}

}  // namespace
}  // namespace behemoth
