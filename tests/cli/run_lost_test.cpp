// A launcher killed with SIGKILL (as `kill -9` on its process group does) takes its workers with
// it, and the next `behemoth history` command lists its run as lost, with the last step that
// reached the history, instead of running forever.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "backend/history/history_store.h"
#include "tests/cli/cli_test_support.h"
#include "tests/support/background_command.h"

namespace behemoth {
namespace {

// The line of `list` output for run `id` ("" when there is none).
std::string rowOf(const std::string& list, std::int64_t id) {
  std::istringstream lines(list);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(std::to_string(id) + " ", 0) == 0) return line;
  }
  return "";
}

TEST(RunLost, KilledLauncherIsListedAsLostWithItsLastStep) {
  TempDir dir;
  writeFile(dir.file("p.json"), tinyProjectJson(dir.file("out"), 100000).dump());
  const std::string db = dir.file("history.sqlite");
  const std::string log = dir.file("launcher.log");
  BackgroundCommand launcher(behemothExecutable(), {"run", dir.file("p.json"), "--nproc", "2", "--history", db}, log);
  ASSERT_TRUE(pollUntil([&] { return lastRecordedStep(db).value_or(0) >= 3; }, std::chrono::seconds(240))) << readFile(log);
  const std::vector<pid_t> workers = launcher.children();
  ASSERT_EQ(workers.size(), 2u) << readFile(log);

  launcher.killGroup();
  // The workers are in groups of their own; they die because their launcher did (PR_SET_PDEATHSIG).
  EXPECT_TRUE(pollUntil([&] { return std::all_of(workers.begin(), workers.end(), processGone); }, std::chrono::seconds(60)))
      << "a worker outlived its launcher";
  const std::int64_t last_step = lastRecordedStep(db).value();
  std::int64_t id = 0;
  {
    // Until a history command looks, the row still says running.
    const std::vector<RunRecord> runs = HistoryStore(db).listRuns();
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].outcome, RunOutcome::running);
    ASSERT_TRUE(runs[0].launcher.has_value());
    EXPECT_EQ(runs[0].launcher->pid, launcher.pid());
    id = runs[0].id;
  }

  const CommandResult list = runBehemoth({"history", "--db", db, "list"});
  ASSERT_EQ(list.exit_code, 0) << list.stderr_text;
  const std::string row = rowOf(list.stdout_text, id);
  EXPECT_NE(row.find(" lost "), std::string::npos) << list.stdout_text;
  EXPECT_NE(row.find(" " + std::to_string(last_step) + " "), std::string::npos) << list.stdout_text;

  const CommandResult show = runBehemoth({"history", "--db", db, "show", std::to_string(id)});
  ASSERT_EQ(show.exit_code, 0) << show.stderr_text;
  EXPECT_NE(show.stdout_text.find("\noutcome          lost\n"), std::string::npos) << show.stdout_text;
  EXPECT_NE(show.stdout_text.find("\nlast step        " + std::to_string(last_step) + "\n"), std::string::npos) << show.stdout_text;
  EXPECT_NE(show.stdout_text.find("pid " + std::to_string(launcher.pid())), std::string::npos) << show.stdout_text;

  const RunDetails details = HistoryStore(db).getRun(id).value();
  EXPECT_EQ(details.run.outcome, RunOutcome::lost);
  EXPECT_EQ(details.run.last_step, std::optional<std::int64_t>(last_step));
  EXPECT_EQ(static_cast<std::int64_t>(details.steps.size()), details.run.logged_steps);
  EXPECT_EQ(details.run.summary.final_loss, std::optional<double>(details.steps.back().loss));
}

}  // namespace
}  // namespace behemoth
