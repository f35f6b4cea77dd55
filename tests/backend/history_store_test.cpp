// The SQLite run history: round trips, filters, the event recorder, concurrency, crashes and
// corrupt files.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <random>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "backend/history/history_format.h"
#include "backend/history/history_recorder.h"
#include "backend/history/history_store.h"
#include "backend/history/sqlite.h"
#include "backend/metrics/events.h"
#include "tests/backend/project_test_support.h"

namespace behemoth {
namespace {

using nlohmann::json;
using testing::ScratchDir;

RunStart startNamed(const std::string& name, int dp = 2) {
  RunStart start;
  start.name = name;
  start.project = {{"name", name}, {"optimizer", {{"lr", 0.001}}}};
  start.plan = {{"dp", dp}, {"tp", 1}, {"zero", 0}};
  start.world_size = dp;
  start.out_dir = "runs/" + name;
  start.parameter_count = 1000;
  return start;
}

StepMetrics stepAt(std::int64_t step, double loss) {
  StepMetrics m;
  m.step = step;
  m.loss = loss;
  m.tokens_per_s = 1000.0 + static_cast<double>(step);
  m.peak_rss_bytes = 100 + step;
  m.model_state_bytes = 50;
  m.elapsed_s = static_cast<double>(step);
  return m;
}

TEST(HistoryStore, DefaultPathFollowsTheEnvironment) {
  const std::string saved_home = std::getenv("HOME") ? std::getenv("HOME") : "";
  setenv("BEHEMOTH_HISTORY", "/x/h.sqlite", 1);
  EXPECT_EQ(HistoryStore::defaultPath(), "/x/h.sqlite");
  unsetenv("BEHEMOTH_HISTORY");
  setenv("XDG_DATA_HOME", "/data", 1);
  EXPECT_EQ(HistoryStore::defaultPath(), "/data/behemoth/history.sqlite");
  unsetenv("XDG_DATA_HOME");
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(HistoryStore::defaultPath(), "/home/u/.local/share/behemoth/history.sqlite");
  setenv("HOME", saved_home.c_str(), 1);
}

TEST(HistoryStore, RunsRoundTripWithMetricsSummaryAndTags) {
  ScratchDir dir;
  HistoryStore store(dir.file("nested/folder/history.sqlite"));  // creates folders
  const std::int64_t id = store.beginRun(startNamed("alpha"));
  store.appendStep(id, stepAt(10, 3.0));
  store.appendEvent(id, evalEvent(10, 3.2));
  store.appendStep(id, stepAt(20, 2.5));
  store.appendEvent(id, evalEvent(25, 2.9));  // an evaluation between logged steps
  store.appendStep(id, stepAt(20, 2.4));      // re-logging a step replaces it
  RunSummary summary;
  summary.final_loss = 2.4;
  summary.final_eval_loss = 2.9;
  summary.tokens_per_s = 1015.0;
  summary.peak_rss_bytes = 120;
  summary.model_state_bytes = 50;
  summary.duration_s = 20.0;
  store.finishRun(id, RunOutcome::completed, "", summary);
  store.setTags(id, {"baseline", "cpu"});

  const std::optional<RunDetails> details = store.getRun(id);
  ASSERT_TRUE(details.has_value());
  const RunRecord& run = details->run;
  EXPECT_EQ(run.name, "alpha");
  EXPECT_EQ(run.project["optimizer"]["lr"], json(0.001));
  EXPECT_EQ(run.plan["dp"], json(2));
  EXPECT_EQ(run.world_size, 2);
  EXPECT_EQ(run.outcome, RunOutcome::completed);
  EXPECT_TRUE(run.finished_at.has_value());
  EXPECT_EQ(run.summary.final_loss, std::optional<double>(2.4));
  EXPECT_EQ(run.summary.peak_rss_bytes, std::optional<std::int64_t>(120));
  EXPECT_EQ(run.tags, (std::vector<std::string>{"baseline", "cpu"}));
  EXPECT_EQ(run.logged_steps, 2);
  ASSERT_EQ(details->steps.size(), 2u);
  EXPECT_EQ(details->steps[0].step, 10);
  EXPECT_EQ(details->steps[0].eval_loss, std::optional<double>(3.2));
  EXPECT_EQ(details->steps[1].loss, 2.4);
  EXPECT_EQ(details->steps[1].tokens_per_s, 1020.0);
  EXPECT_FALSE(details->steps[1].eval_loss.has_value());
  EXPECT_EQ(details->evals, (std::vector<std::pair<std::int64_t, double>>{{10, 3.2}, {25, 2.9}}));

  EXPECT_FALSE(store.getRun(id + 100).has_value());
  EXPECT_THROW(store.appendStep(id + 100, stepAt(1, 1.0)), std::invalid_argument);
  EXPECT_TRUE(store.deleteRun(id));
  EXPECT_FALSE(store.deleteRun(id));
  EXPECT_FALSE(store.getRun(id).has_value());
}

TEST(HistoryStore, ListFiltersByNameTagsAndOutcomeAndOrders) {
  ScratchDir dir;
  HistoryStore store(dir.file("h.sqlite"));
  const std::int64_t a = store.beginRun(startNamed("gpt-small"));
  const std::int64_t b = store.beginRun(startNamed("llama-tiny"));
  const std::int64_t c = store.beginRun(startNamed("gpt_100%"));
  RunSummary worse, better;
  worse.final_loss = 3.0;
  better.final_loss = 2.0;
  store.finishRun(a, RunOutcome::completed, "", worse);
  store.finishRun(b, RunOutcome::failed, "rank 1: out of memory", better);
  store.setTags(c, {"sweep"});

  const auto ids = [](const std::vector<RunRecord>& runs) {
    std::vector<std::int64_t> out;
    for (const auto& run : runs) out.push_back(run.id);
    return out;
  };
  EXPECT_EQ(ids(store.listRuns()), (std::vector<std::int64_t>{c, b, a}));
  EXPECT_EQ(ids(store.listRuns("", RunOrder::oldest_first)), (std::vector<std::int64_t>{a, b, c}));
  EXPECT_EQ(ids(store.listRuns("", RunOrder::best_loss_first)), (std::vector<std::int64_t>{b, a, c}));
  EXPECT_EQ(ids(store.listRuns("GPT")), (std::vector<std::int64_t>{c, a}));
  EXPECT_EQ(ids(store.listRuns("failed")), (std::vector<std::int64_t>{b}));
  EXPECT_EQ(ids(store.listRuns("sweep")), (std::vector<std::int64_t>{c}));
  EXPECT_EQ(ids(store.listRuns("100%")), (std::vector<std::int64_t>{c}));   // wildcards are literal
  EXPECT_EQ(ids(store.listRuns("gpt_")), (std::vector<std::int64_t>{c}));
  EXPECT_EQ(ids(store.listRuns("", RunOrder::newest_first, 1)), (std::vector<std::int64_t>{c}));
  EXPECT_EQ(store.getRun(b)->run.error, "rank 1: out of memory");
}

TEST(HistoryRecorder, RecordsARunFromItsEventsAlone) {
  ScratchDir dir;
  auto store = std::make_shared<HistoryStore>(dir.file("h.sqlite"));
  std::int64_t id = 0;
  {
    HistoryRecorder recorder(store);
    RunStartedInfo info;
    info.name = "evented";
    info.project = {{"name", "evented"}};
    info.plan = {{"dp", 2}};
    info.world_size = 2;
    info.parameter_count = 777;
    recorder.emit(runStartedEvent(info));
    recorder.emit(logEvent("hello"));
    recorder.emit(stepEvent(stepAt(10, 3.0)));
    recorder.emit(stepEvent(stepAt(20, 2.0)));
    recorder.emit(evalEvent(20, 2.2));
    recorder.emit(runFinishedEvent(2.0, 2.2, 21.5));
    id = recorder.runId().value();
  }
  const RunDetails details = store->getRun(id).value();
  EXPECT_EQ(details.run.name, "evented");
  EXPECT_EQ(details.run.parameter_count, 777);
  EXPECT_EQ(details.run.outcome, RunOutcome::completed);
  EXPECT_EQ(details.run.summary.final_loss, std::optional<double>(2.0));
  EXPECT_EQ(details.run.summary.final_eval_loss, std::optional<double>(2.2));
  EXPECT_EQ(details.run.summary.tokens_per_s, std::optional<double>(1015.0));  // mean of 1010 and 1020
  EXPECT_EQ(details.run.summary.peak_rss_bytes, std::optional<std::int64_t>(120));
  EXPECT_EQ(details.run.summary.duration_s, std::optional<double>(21.5));
  ASSERT_EQ(details.steps.size(), 2u);
  EXPECT_EQ(details.steps[1].eval_loss, std::optional<double>(2.2));

  // A failure, and a run whose launcher vanished without an outcome.
  HistoryRecorder failing(store);
  failing.emit(runStartedEvent({}));
  failing.emit(runFailedEvent("NaN loss", 1));
  failing.emit(runFailedEvent("peer died", 0));  // later reports do not overwrite the first
  const RunRecord failed = store->getRun(failing.runId().value())->run;
  EXPECT_EQ(failed.outcome, RunOutcome::failed);
  EXPECT_EQ(failed.error, "rank 1: NaN loss");
  std::int64_t abandoned = 0;
  {
    HistoryRecorder vanishing(store);
    vanishing.emit(runStartedEvent({}));
    abandoned = vanishing.runId().value();
  }
  EXPECT_EQ(store->getRun(abandoned)->run.outcome, RunOutcome::failed);
  HistoryRecorder early(store);
  EXPECT_THROW(early.emit(stepEvent(stepAt(1, 1.0))), std::logic_error);
}

TEST(HistoryStore, TwoConnectionsWriteConcurrentlyWithoutLockErrors) {
  ScratchDir dir;
  const std::string path = dir.file("h.sqlite");
  constexpr int kRunsPerWriter = 10;
  constexpr int kStepsPerRun = 15;
  std::vector<std::string> errors(2);
  auto writer = [&](int index) {
    try {
      HistoryStore store(path);
      for (int r = 0; r < kRunsPerWriter; ++r) {
        const std::int64_t id = store.beginRun(startNamed("writer" + std::to_string(index)));
        for (int s = 1; s <= kStepsPerRun; ++s) store.appendStep(id, stepAt(s, 1.0 / s));
        store.finishRun(id, RunOutcome::completed, "", {});
      }
    } catch (const std::exception& error) {
      errors[index] = error.what();
    }
  };
  std::thread first(writer, 0);
  std::thread second(writer, 1);
  first.join();
  second.join();
  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");
  HistoryStore reader(path);
  EXPECT_EQ(reader.listRuns("writer0").size(), static_cast<std::size_t>(kRunsPerWriter));
  EXPECT_EQ(reader.listRuns("writer1").size(), static_cast<std::size_t>(kRunsPerWriter));
  for (const RunRecord& run : reader.listRuns()) EXPECT_EQ(run.logged_steps, kStepsPerRun);
}

TEST(HistoryStore, TwoProcessesWriteConcurrently) {
  ScratchDir dir;
  const std::string path = dir.file("h.sqlite");
  { HistoryStore created(path); }  // created up front, so the children only contend on writes
  std::vector<pid_t> children;
  for (int child = 0; child < 2; ++child) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int code = 0;
      try {
        HistoryStore store(path);
        for (int r = 0; r < 8; ++r) {
          const std::int64_t id = store.beginRun(startNamed("proc" + std::to_string(child)));
          for (int s = 1; s <= 10; ++s) store.appendStep(id, stepAt(s, 1.0));
          store.finishRun(id, RunOutcome::completed, "", {});
        }
      } catch (...) {
        code = 1;
      }
      _exit(code);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  HistoryStore reader(path);
  EXPECT_EQ(reader.listRuns("proc0").size(), 8u);
  EXPECT_EQ(reader.listRuns("proc1").size(), 8u);
}

TEST(HistoryStore, ProcessKilledInsideAWriteTransactionLosesOnlyThatTransaction) {
  ScratchDir dir;
  const std::string path = dir.file("h.sqlite");
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(ready[0]);
    try {
      HistoryStore store(path);
      for (int r = 0; r < 3; ++r) {
        const std::int64_t id = store.beginRun(startNamed("committed"));
        store.appendStep(id, stepAt(1, 1.0));
      }
      // Hold a write transaction open, half written, and wait to be killed.
      sqlite::Database raw(path, 5000);
      raw.exec("BEGIN IMMEDIATE");
      raw.exec("INSERT INTO runs (name, project_json, plan_json, world_size, out_dir, started_at, outcome) "
               "VALUES ('uncommitted', '{}', '{}', 1, '', 'now', 'running')");
      raw.exec("UPDATE runs SET outcome = 'failed'");
      const char byte = 1;
      if (write(ready[1], &byte, 1) != 1) _exit(2);
    } catch (...) {
      _exit(1);
    }
    pause();
    _exit(3);
  }
  close(ready[1]);
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1) << "the child failed before its transaction";
  close(ready[0]);
  kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));

  HistoryStore store(path);
  const std::vector<RunRecord> runs = store.listRuns();
  ASSERT_EQ(runs.size(), 3u);
  for (const RunRecord& run : runs) {
    EXPECT_EQ(run.name, "committed");
    EXPECT_EQ(run.outcome, RunOutcome::running);  // the killed UPDATE never happened
    EXPECT_EQ(run.logged_steps, 1);
  }
  EXPECT_GT(store.beginRun(startNamed("after")), 0);  // and it is writable again
}

TEST(HistoryStore, CorruptFileGivesAnErrorNamingThePath) {
  ScratchDir dir;
  const std::string path = dir.file("corrupt.sqlite");
  {
    std::mt19937 random(7);
    std::ofstream file(path, std::ios::binary);
    for (int i = 0; i < 8192; ++i) file.put(static_cast<char>(random() & 0xff));
  }
  try {
    HistoryStore store(path);
    FAIL() << "opened a corrupt file";
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()), "history database " + path + ": file is not a database");
  }
}

TEST(HistoryStore, NewerSchemaIsRefused) {
  ScratchDir dir;
  const std::string path = dir.file("h.sqlite");
  { HistoryStore store(path); }
  {
    sqlite::Database raw(path, 1000);
    raw.exec("PRAGMA user_version = 9");
  }
  try {
    HistoryStore store(path);
    FAIL() << "opened a newer schema";
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()),
              "history database " + path + ": schema version 9 is newer than this build understands (" +
                  std::to_string(HistoryStore::kSchemaVersion) + ")");
  }
}

TEST(HistoryFormat, ListDetailsAndComparisonShowTheDifferences) {
  ScratchDir dir;
  HistoryStore store(dir.file("h.sqlite"));
  RunStart first = startNamed("base", 2);
  RunStart second = startNamed("wide", 4);
  second.project["optimizer"]["lr"] = 0.002;
  const std::int64_t a = store.beginRun(first);
  const std::int64_t b = store.beginRun(second);
  store.appendStep(a, stepAt(10, 2.5));
  RunSummary sa, sb;
  sa.final_loss = 2.0;
  sa.tokens_per_s = 1000.0;
  sa.duration_s = 60.0;
  sb.final_loss = 1.5;
  sb.tokens_per_s = 1500.0;
  sb.duration_s = 90.0;
  store.finishRun(a, RunOutcome::completed, "", sa);
  store.finishRun(b, RunOutcome::completed, "", sb);

  const std::string list = formatRunList(store.listRuns());
  EXPECT_NE(list.find("base"), std::string::npos);
  EXPECT_NE(list.find("dp4"), std::string::npos);
  EXPECT_NE(list.find("2.0000"), std::string::npos);
  EXPECT_EQ(formatRunList({}), "no runs recorded\n");

  const std::string details = formatRunDetails(store.getRun(a).value());
  EXPECT_NE(details.find("final loss       2.0000"), std::string::npos) << details;
  EXPECT_NE(details.find("2.5000"), std::string::npos) << details;
  EXPECT_NE(details.find("duration         1:00"), std::string::npos) << details;

  const std::string comparison = formatRunComparison(store.getRun(a).value(), store.getRun(b).value());
  EXPECT_NE(comparison.find("parallel.dp      2          4"), std::string::npos) << comparison;
  EXPECT_NE(comparison.find("optimizer.lr"), std::string::npos) << comparison;
  EXPECT_NE(comparison.find("-25.0%"), std::string::npos) << comparison;  // loss 2.0 -> 1.5
  EXPECT_NE(comparison.find("+50.0%"), std::string::npos) << comparison;  // tokens/s and duration
  EXPECT_EQ(comparison.find("parallel.tp"), std::string::npos) << comparison;  // equal fields are not shown
}

}  // namespace
}  // namespace behemoth
