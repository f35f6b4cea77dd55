// Runs never vanish: a run whose launcher died without recording an outcome (SIGKILL, a crash)
// becomes `lost` with the steps that reached the history; a live launcher's run stays running, and
// a run launched on another host is left alone. Older (version 1) databases are migrated in place.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "backend/history/history_format.h"
#include "backend/history/history_store.h"
#include "backend/history/process_identity.h"
#include "backend/history/sqlite.h"
#include "backend/metrics/events.h"
#include "tests/backend/project_test_support.h"

namespace behemoth {
namespace {

using testing::ScratchDir;

RunStart startLaunchedBy(const std::string& name, const std::optional<ProcessIdentity>& launcher) {
  RunStart start;
  start.name = name;
  start.plan = {{"dp", 2}};
  start.world_size = 2;
  start.launcher = launcher;
  return start;
}

StepMetrics stepAt(std::int64_t step, double loss, double tokens_per_s, std::int64_t rss) {
  StepMetrics m;
  m.step = step;
  m.loss = loss;
  m.tokens_per_s = tokens_per_s;
  m.peak_rss_bytes = rss;
  m.model_state_bytes = 64;
  m.elapsed_s = 0.5 * static_cast<double>(step);
  return m;
}

// A child process held at a pipe until released: its identity is read while it runs.
class ChildProcess {
 public:
  ChildProcess() {
    if (::pipe(release_) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::close(release_[1]);
      char byte = 0;
      [[maybe_unused]] const ssize_t got = ::read(release_[0], &byte, 1);
      ::_exit(0);
    }
    ::close(release_[0]);
  }
  ~ChildProcess() {
    release();
    reap();
  }
  ProcessIdentity identity() const {
    ProcessIdentity id;
    id.host = currentHostName();
    id.pid = pid_;
    id.start_ticks = readProcStat(pid_).value().start_ticks;
    id.boot_id = currentProcessIdentity().boot_id;
    return id;
  }
  // Lets it exit (it stays a zombie until reaped).
  void release() {
    if (release_[1] >= 0) ::close(release_[1]);
    release_[1] = -1;
  }
  void reap() {
    if (pid_ <= 0) return;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  pid_t pid() const { return pid_; }

 private:
  int release_[2] = {-1, -1};
  pid_t pid_ = -1;
};

TEST(ProcessIdentity, StatParsingSurvivesCommandNamesWithParenthesesAndSpaces) {
  std::string line = "4242 (odd ) (name) S";
  for (int field = 4; field < 22; ++field) line += " " + std::to_string(field * 10);
  line += " 987654 more fields";
  const std::optional<ProcStat> stat = parseProcStat(line);
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->state, 'S');
  EXPECT_EQ(stat->start_ticks, 987654);
  EXPECT_FALSE(parseProcStat("4242 (truncated) S 1 2").has_value());
}

TEST(ProcessIdentity, ThisProcessIsAliveAndAnExitedOneIsGone) {
  const ProcessIdentity self = currentProcessIdentity();
  EXPECT_EQ(self.pid, ::getpid());
  ASSERT_TRUE(self.start_ticks.has_value());
  EXPECT_EQ(processState(self), ProcessState::alive);

  ChildProcess child;
  const ProcessIdentity identity = child.identity();
  EXPECT_EQ(processState(identity), ProcessState::alive);
  child.release();
  // Exited but not reaped: a zombie is gone too.
  ASSERT_TRUE([&] {
    for (int tries = 0; tries < 2000; ++tries) {
      const auto stat = readProcStat(child.pid());
      if (stat && stat->state == 'Z') return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }());
  EXPECT_EQ(processState(identity), ProcessState::gone);
  child.reap();
  EXPECT_EQ(processState(identity), ProcessState::gone);

  ProcessIdentity reused = self;  // this PID, but a process that started at another time
  *reused.start_ticks += 1;
  EXPECT_EQ(processState(reused), ProcessState::gone);
  ProcessIdentity remote = identity;
  remote.host = "another-" + self.host;
  EXPECT_EQ(processState(remote), ProcessState::elsewhere);
}

TEST(HistoryLostRuns, DeadLauncherMakesItsRunLostWithItsLastStepAndALiveOneStaysRunning) {
  ScratchDir dir;
  HistoryStore store(dir.file("h.sqlite"));
  ChildProcess launcher;
  const ProcessIdentity dead = launcher.identity();
  ProcessIdentity remote = dead;
  remote.host = "another-" + dead.host;

  const std::int64_t lost = store.beginRun(startLaunchedBy("killed", dead));
  store.appendStep(lost, stepAt(10, 3.0, 1000.0, 500));
  store.appendEvent(lost, evalEvent(10, 3.3));
  store.appendStep(lost, stepAt(20, 2.5, 3000.0, 700));
  const std::int64_t alive = store.beginRun(startLaunchedBy("alive", std::nullopt));  // this process
  store.appendStep(alive, stepAt(10, 3.1, 1000.0, 500));
  const std::int64_t elsewhere = store.beginRun(startLaunchedBy("remote", remote));
  const std::int64_t finished = store.beginRun(startLaunchedBy("finished", dead));
  store.finishRun(finished, RunOutcome::completed, "", {});
  const std::int64_t silent = store.beginRun(startLaunchedBy("no-steps", dead));

  EXPECT_TRUE(store.markLostRuns().empty());  // the launcher is still running
  launcher.release();
  launcher.reap();

  EXPECT_EQ(store.markLostRuns(), (std::vector<std::int64_t>{lost, silent}));
  EXPECT_TRUE(store.markLostRuns().empty());  // once

  const RunDetails details = store.getRun(lost).value();
  const RunRecord& run = details.run;
  EXPECT_EQ(run.outcome, RunOutcome::lost);
  EXPECT_EQ(run.last_step, std::optional<std::int64_t>(20));
  EXPECT_EQ(run.logged_steps, 2);
  ASSERT_EQ(details.steps.size(), 2u);  // the steps stay
  EXPECT_EQ(run.summary.final_loss, std::optional<double>(2.5));
  EXPECT_EQ(run.summary.final_eval_loss, std::optional<double>(3.3));
  EXPECT_EQ(run.summary.tokens_per_s, std::optional<double>(2000.0));
  EXPECT_EQ(run.summary.peak_rss_bytes, std::optional<std::int64_t>(700));
  EXPECT_EQ(run.summary.duration_s, std::optional<double>(10.0));
  EXPECT_FALSE(run.finished_at.has_value());  // when it died is unknown
  ASSERT_TRUE(run.launcher.has_value());
  EXPECT_EQ(run.launcher->pid, dead.pid);
  EXPECT_EQ(run.launcher->start_ticks, dead.start_ticks);
  EXPECT_NE(run.error.find("pid " + std::to_string(dead.pid) + " on " + dead.host), std::string::npos) << run.error;
  EXPECT_NE(run.error.find("last step in the history: 20"), std::string::npos) << run.error;
  EXPECT_NE(store.getRun(silent)->run.error.find("no step reached the history"), std::string::npos);

  const RunRecord still = store.getRun(alive)->run;
  EXPECT_EQ(still.outcome, RunOutcome::running);
  EXPECT_EQ(still.launcher->pid, ::getpid());
  EXPECT_EQ(still.launcher->start_ticks, currentProcessIdentity().start_ticks);
  EXPECT_EQ(store.getRun(elsewhere)->run.outcome, RunOutcome::running);  // another host's: left alone
  EXPECT_EQ(store.getRun(finished)->run.outcome, RunOutcome::completed);

  EXPECT_EQ(store.listRuns("lost").size(), 2u);
  const std::string list = formatRunList(store.listRuns());
  const std::size_t row_start = list.find("\n" + std::to_string(lost) + " ");
  ASSERT_NE(row_start, std::string::npos) << list;
  const std::string row = list.substr(row_start + 1, list.find('\n', row_start + 1) - row_start - 1);
  EXPECT_NE(row.find(" killed "), std::string::npos) << list;
  EXPECT_NE(row.find(" lost "), std::string::npos) << list;
  EXPECT_NE(row.find(" 20 "), std::string::npos) << list;  // the last step
  const std::string shown = formatRunDetails(details);
  EXPECT_NE(shown.find("\noutcome          lost\n"), std::string::npos) << shown;
  EXPECT_NE(shown.find("\nlast step        20\n"), std::string::npos) << shown;
}

// Version 1 (before `lost` and the launcher columns), as that build created it.
constexpr const char* kVersion1Schema = R"sql(
CREATE TABLE runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, project_json TEXT NOT NULL, plan_json TEXT NOT NULL,
  world_size INTEGER NOT NULL, out_dir TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT,
  outcome TEXT NOT NULL CHECK (outcome IN ('running', 'completed', 'failed', 'stopped')),
  error TEXT NOT NULL DEFAULT '', final_loss REAL, final_eval_loss REAL, tokens_per_s REAL, peak_rss_bytes INTEGER,
  model_state_bytes INTEGER, duration_s REAL, parameter_count INTEGER NOT NULL DEFAULT 0, tags TEXT NOT NULL DEFAULT '[]');
CREATE TABLE run_metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, step INTEGER NOT NULL, loss REAL, eval_loss REAL,
  json TEXT, PRIMARY KEY (run_id, step)) WITHOUT ROWID;
CREATE INDEX runs_started ON runs(started_at);
PRAGMA user_version = 1;
)sql";

std::int64_t countOf(sqlite::Database& db, const std::string& sql) {
  sqlite::Statement query(db, sql);
  return query.step() ? query.getInt(0) : -1;
}

TEST(HistoryLostRuns, Version1DatabaseIsMigratedKeepingRunsMetricsAndIds) {
  ScratchDir dir;
  const std::string path = dir.file("v1.sqlite");
  {
    sqlite::Database raw(path, 1000);
    raw.exec(kVersion1Schema);
    raw.exec("INSERT INTO runs (name, project_json, plan_json, world_size, out_dir, started_at, outcome, final_loss, tags) "
             "VALUES ('old', '{}', '{\"dp\":2}', 2, 'runs/old', '2026-01-01T00:00:00Z', 'completed', 2.5, '[\"kept\"]'), "
             "('stuck', '{}', '{}', 1, '', '2026-01-02T00:00:00Z', 'running', NULL, '[]'), "
             "('deleted', '{}', '{}', 1, '', '2026-01-03T00:00:00Z', 'failed', NULL, '[]')");
    raw.exec("INSERT INTO run_metrics (run_id, step, loss, json) VALUES (1, 10, 3.0, '{\"step\":10,\"loss\":3.0}'), "
             "(1, 20, 2.5, '{\"step\":20,\"loss\":2.5}')");
    raw.exec("DELETE FROM runs WHERE id = 3");
  }
  HistoryStore store(path);
  {
    sqlite::Database raw(path, 1000);
    EXPECT_EQ(countOf(raw, "PRAGMA user_version"), HistoryStore::kSchemaVersion);
    EXPECT_EQ(countOf(raw, "SELECT count(*) FROM run_metrics"), 2);  // not cascaded away by the rebuild
    EXPECT_EQ(countOf(raw, "SELECT count(*) FROM sqlite_master WHERE name = 'runs_started'"), 1);
  }
  const RunDetails old = store.getRun(1).value();
  EXPECT_EQ(old.run.name, "old");
  EXPECT_EQ(old.run.outcome, RunOutcome::completed);
  EXPECT_EQ(old.run.summary.final_loss, std::optional<double>(2.5));
  EXPECT_EQ(old.run.tags, (std::vector<std::string>{"kept"}));
  EXPECT_EQ(old.run.last_step, std::optional<std::int64_t>(20));
  EXPECT_EQ(old.steps.size(), 2u);
  EXPECT_FALSE(old.run.launcher.has_value());
  // A version 1 run has no launcher to check: it is left as it was.
  EXPECT_TRUE(store.markLostRuns().empty());
  EXPECT_EQ(store.getRun(2)->run.outcome, RunOutcome::running);
  // The new outcome is accepted, ids keep counting after the deleted run, and deleting still
  // takes the metrics along.
  store.finishRun(2, RunOutcome::lost, "marked by hand", {});
  EXPECT_EQ(store.getRun(2)->run.outcome, RunOutcome::lost);
  EXPECT_EQ(store.beginRun(startLaunchedBy("new", std::nullopt)), 4);
  EXPECT_TRUE(store.deleteRun(1));
  sqlite::Database raw(path, 1000);
  EXPECT_EQ(countOf(raw, "SELECT count(*) FROM run_metrics"), 0);
}

}  // namespace
}  // namespace behemoth
