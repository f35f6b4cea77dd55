// A job restarted by `behemoth run --max-restarts` stays one run in the history: the restarted
// workers' run_started continues it, restarts are counted, the steps redone after the checkpoint
// are kept once, and checkpoints, resumes and restarts are kept with the run. Version 2 databases
// gain the restart count in place.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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

// Attempt 1 logs loss 9 so that a step of it surviving the restart would show.
StepMetrics stepAt(std::int64_t step, int attempt) {
  StepMetrics m;
  m.step = step;
  m.loss = attempt == 1 ? 9.0 : 5.0 - 0.1 * static_cast<double>(step);
  m.tokens_per_s = attempt == 1 ? 100.0 : 1000.0;
  m.peak_rss_bytes = 100;
  m.elapsed_s = static_cast<double>(step);
  return m;
}

json checkpointSaved(std::int64_t step) {
  CheckpointSavedInfo info;
  info.step = step;
  info.path = "out/checkpoints/step-000000" + std::to_string(step);
  info.bytes = 4096;
  info.reason = "every";
  return checkpointSavedEvent(info);
}

std::vector<std::string> typesOf(const std::vector<json>& events) {
  std::vector<std::string> types;
  for (const json& event : events) types.push_back(eventType(event));
  return types;
}

TEST(HistoryRestart, ARestartedJobIsOneRunWithItsRestartCountedAndEveryStepOnce) {
  ScratchDir dir;
  auto store = std::make_shared<HistoryStore>(dir.file("h.sqlite"));
  HistoryRecorder recorder(store);
  RunStartedInfo info;
  info.name = "restarted";
  info.world_size = 2;
  // Attempt 1 saves at step 2 and dies after logging step 3.
  recorder.emit(runStartedEvent(info));
  for (std::int64_t step = 1; step <= 3; ++step) {
    recorder.emit(stepEvent(stepAt(step, 1)));
    if (step == 2) recorder.emit(checkpointSaved(2));
  }
  const std::int64_t id = recorder.runId().value();
  recorder.emit(runRestartedEvent(1, 2, "rank 1 was killed by signal 9 (SIGKILL)", "out/checkpoints/step-0000002", 2));
  // Attempt 2 announces itself, resumes at step 2 and finishes.
  recorder.emit(runStartedEvent(info));
  recorder.emit(runResumedEvent(2, "out/checkpoints/step-0000002", "dp 2"));
  EXPECT_EQ(recorder.runId(), std::optional<std::int64_t>(id));
  for (std::int64_t step = 3; step <= 6; ++step) recorder.emit(stepEvent(stepAt(step, 2)));
  recorder.emit(runFinishedEvent(4.4, std::nullopt, 7.0));

  ASSERT_EQ(store->listRuns().size(), 1u);
  const RunDetails details = store->getRun(id).value();
  EXPECT_EQ(details.run.outcome, RunOutcome::completed);
  EXPECT_EQ(details.run.restarts, 1);
  ASSERT_EQ(details.steps.size(), 6u);
  for (std::size_t k = 0; k < details.steps.size(); ++k) {
    EXPECT_EQ(details.steps[k].step, static_cast<std::int64_t>(k + 1));
    EXPECT_DOUBLE_EQ(details.steps[k].loss, stepAt(static_cast<std::int64_t>(k + 1), k < 2 ? 1 : 2).loss) << "step " << k + 1;
  }
  // The mean rate over the six steps as finally logged (attempt 1's step 3 is not counted).
  EXPECT_DOUBLE_EQ(details.run.summary.tokens_per_s.value(), (2 * 100.0 + 4 * 1000.0) / 6.0);
  EXPECT_EQ(typesOf(details.events), (std::vector<std::string>{"checkpoint_saved", "run_restarted", "run_resumed"}));
  EXPECT_EQ(details.events[1].at("reason"), "rank 1 was killed by signal 9 (SIGKILL)");

  const std::string shown = formatRunDetails(details);
  EXPECT_NE(shown.find("restarts         1"), std::string::npos) << shown;
  EXPECT_NE(shown.find("restart 1 of 2 from out/checkpoints/step-0000002: rank 1 was killed"), std::string::npos) << shown;
  EXPECT_NE(shown.find("checkpoint_saved"), std::string::npos) << shown;
}

TEST(HistoryRestart, ARestartFromTheBeginningForgetsEveryLoggedStep) {
  ScratchDir dir;
  auto store = std::make_shared<HistoryStore>(dir.file("h.sqlite"));
  HistoryRecorder recorder(store);
  recorder.emit(runStartedEvent({}));
  for (std::int64_t step = 1; step <= 3; ++step) recorder.emit(stepEvent(stepAt(step, 1)));
  recorder.emit(runRestartedEvent(1, 1, "rank 0 exited with code 1", "", 0));
  recorder.emit(runStartedEvent({}));
  recorder.emit(stepEvent(stepAt(1, 2)));
  recorder.emit(runFailedEvent("index out of range", 0));
  const RunDetails details = store->getRun(recorder.runId().value()).value();
  EXPECT_EQ(store->listRuns().size(), 1u);
  EXPECT_EQ(details.run.outcome, RunOutcome::failed);
  EXPECT_EQ(details.run.restarts, 1);
  ASSERT_EQ(details.steps.size(), 1u);
  EXPECT_DOUBLE_EQ(details.steps[0].loss, stepAt(1, 2).loss);
}

TEST(HistoryRestart, ARunStartedWithoutARestartIsStillANewRun) {
  ScratchDir dir;
  auto store = std::make_shared<HistoryStore>(dir.file("h.sqlite"));
  HistoryRecorder recorder(store);
  recorder.emit(runStartedEvent({}));
  const std::int64_t first = recorder.runId().value();
  recorder.emit(runFinishedEvent(1.0, std::nullopt, 1.0));
  recorder.emit(runStartedEvent({}));
  EXPECT_NE(recorder.runId().value(), first);
  EXPECT_EQ(store->listRuns().size(), 2u);
  EXPECT_THROW(store->appendRunEvent(first, stepEvent(stepAt(1, 1))), std::invalid_argument);
}

std::int64_t countOf(sqlite::Database& db, const std::string& sql) {
  sqlite::Statement query(db, sql);
  return query.step() ? query.getInt(0) : -1;
}

// The schema as version 2 wrote it.
constexpr const char* kVersion2Schema = R"sql(
CREATE TABLE runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, project_json TEXT NOT NULL, plan_json TEXT NOT NULL,
  world_size INTEGER NOT NULL, out_dir TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT,
  outcome TEXT NOT NULL CHECK (outcome IN ('running', 'completed', 'failed', 'stopped', 'lost')),
  error TEXT NOT NULL DEFAULT '', final_loss REAL, final_eval_loss REAL, tokens_per_s REAL, peak_rss_bytes INTEGER,
  model_state_bytes INTEGER, duration_s REAL, parameter_count INTEGER NOT NULL DEFAULT 0, tags TEXT NOT NULL DEFAULT '[]',
  launcher_host TEXT, launcher_pid INTEGER, launcher_start_ticks INTEGER, launcher_boot_id TEXT);
CREATE TABLE run_metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, step INTEGER NOT NULL, loss REAL, eval_loss REAL,
  json TEXT, PRIMARY KEY (run_id, step)) WITHOUT ROWID;
CREATE INDEX runs_started ON runs(started_at);
PRAGMA user_version = 2;
)sql";

TEST(HistoryRestart, Version2DatabaseGainsTheRestartCountKeepingItsRuns) {
  ScratchDir dir;
  const std::string path = dir.file("v2.sqlite");
  {
    sqlite::Database raw(path, 1000);
    raw.exec(kVersion2Schema);
    raw.exec("INSERT INTO runs (name, project_json, plan_json, world_size, out_dir, started_at, outcome, final_loss) "
             "VALUES ('old', '{}', '{\"dp\":2}', 2, 'runs/old', '2026-01-01T00:00:00Z', 'completed', 2.5)");
    raw.exec("INSERT INTO run_metrics (run_id, step, loss, json) VALUES (1, 10, 3.0, '{\"step\":10,\"loss\":3.0}')");
  }
  HistoryStore store(path);
  {
    sqlite::Database raw(path, 1000);
    EXPECT_EQ(countOf(raw, "PRAGMA user_version"), 3);
    EXPECT_EQ(countOf(raw, "SELECT count(*) FROM run_metrics"), 1);
  }
  const RunDetails old = store.getRun(1).value();
  EXPECT_EQ(old.run.name, "old");
  EXPECT_EQ(old.run.restarts, 0);
  EXPECT_EQ(old.run.summary.final_loss, std::optional<double>(2.5));
  EXPECT_TRUE(old.events.empty());
  // The new table works, and deleting the run takes its events along.
  store.recordRestart(1, runRestartedEvent(1, 3, "rank 2 exited with code 1", "", 0));
  EXPECT_EQ(store.getRun(1)->run.restarts, 1);
  EXPECT_TRUE(store.getRun(1)->steps.empty());
  EXPECT_TRUE(store.deleteRun(1));
  sqlite::Database raw(path, 1000);
  EXPECT_EQ(countOf(raw, "SELECT count(*) FROM run_events"), 0);
}

}  // namespace
}  // namespace behemoth
