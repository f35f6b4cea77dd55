// The run history: every run with its project, plan, metrics and outcome, in one SQLite file that
// several runs (processes) may write at once. Schema and behaviour: docs/history.md.
#pragma once

#include <nlohmann/json.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backend/history/process_identity.h"
#include "backend/history/sqlite.h"
#include "backend/metrics/step_metrics.h"

namespace behemoth {

// lost: the launcher vanished (SIGKILL, a crash, a power cut) without recording an outcome;
// set by markLostRuns, never by a launcher.
enum class RunOutcome { running, completed, failed, stopped, lost };
std::string outcomeName(RunOutcome outcome);
RunOutcome outcomeFromName(const std::string& name);  // throws std::invalid_argument

struct RunStart {
  std::string name;
  nlohmann::json project = nlohmann::json::object();
  nlohmann::json plan = nlohmann::json::object();
  int world_size = 1;
  std::string out_dir;
  std::int64_t parameter_count = 0;
  std::string started_at;  // ISO 8601 UTC; empty = now
  std::vector<std::string> tags;
  // The process that records the run's end; nullopt: the process calling beginRun.
  std::optional<ProcessIdentity> launcher;
};

struct RunSummary {
  std::optional<double> final_loss;
  std::optional<double> final_eval_loss;
  std::optional<double> tokens_per_s;
  std::optional<std::int64_t> peak_rss_bytes;
  std::optional<std::int64_t> model_state_bytes;
  std::optional<double> duration_s;
};

struct RunRecord {
  std::int64_t id = 0;
  std::string name;
  nlohmann::json project;
  nlohmann::json plan;
  int world_size = 1;
  std::string out_dir;
  std::string started_at;
  std::optional<std::string> finished_at;
  RunOutcome outcome = RunOutcome::running;
  std::string error;
  RunSummary summary;
  std::int64_t parameter_count = 0;
  std::vector<std::string> tags;
  std::int64_t logged_steps = 0;  // rows in the run's metrics
  std::optional<std::int64_t> last_step;       // the highest logged step (nullopt: none reached the history)
  std::optional<ProcessIdentity> launcher;     // nullopt for runs recorded before schema version 2
  int restarts = 0;  // times `behemoth run --max-restarts` restarted its workers (0 before schema version 3)
};

struct RunDetails {
  RunRecord run;
  std::vector<StepMetrics> steps;                       // logged steps, in step order
  std::vector<std::pair<std::int64_t, double>> evals;   // (step, eval loss), in step order
  // The run's checkpoint_saved, run_resumed and run_restarted events, in arrival order.
  std::vector<nlohmann::json> events;
};

enum class RunOrder { newest_first, oldest_first, best_loss_first };

class HistoryStore {
 public:
  // $BEHEMOTH_HISTORY, else $XDG_DATA_HOME/behemoth/history.sqlite, else
  // ~/.local/share/behemoth/history.sqlite. Does not create anything.
  static std::string defaultPath();

  // Opens or creates the database (and its folder). Throws std::runtime_error
  // "history database <path>: <reason>" for a file that is not a database, is locked for longer
  // than the busy timeout, or has a newer schema than this build.
  explicit HistoryStore(const std::string& path, int busy_timeout_ms = 5000);

  std::int64_t beginRun(const RunStart& start);
  // Inserts or replaces the row for metrics.step (eval_loss already recorded for it is kept).
  void appendStep(std::int64_t run_id, const StepMetrics& metrics);
  // A "step" or "eval" event; an eval updates the row of its step (creating it when needed).
  void appendEvent(std::int64_t run_id, const nlohmann::json& event);
  void finishRun(std::int64_t run_id, RunOutcome outcome, const std::string& error, const RunSummary& summary);
  // Keeps a checkpoint_saved, run_resumed or run_restarted event with the run (other types are refused).
  void appendRunEvent(std::int64_t run_id, const nlohmann::json& event);
  // A run_restarted event: counts the restart, keeps the event, and forgets the logged steps after
  // the event's "step" (the checkpoint the workers continue from; 0 when they start over), which
  // the restarted workers log again.
  void recordRestart(std::int64_t run_id, const nlohmann::json& event);
  // Marks `lost` every running run whose launcher ran on this host and is gone (exited, a zombie,
  // or its PID now names another process), with the summary of the steps that reached the
  // history. Runs launched on another host, or recorded without a launcher, are left alone.
  // Returns the ids it marked.
  std::vector<std::int64_t> markLostRuns();

  // Runs whose name, tags or outcome contain `filter` (case-insensitive; empty = all). limit 0 = all.
  std::vector<RunRecord> listRuns(const std::string& filter = "", RunOrder order = RunOrder::newest_first,
                                  int limit = 0);
  std::optional<RunDetails> getRun(std::int64_t id);
  // False when there was no such run.
  bool deleteRun(std::int64_t id);
  void setTags(std::int64_t id, const std::vector<std::string>& tags);

  const std::string& path() const { return db_.path(); }
  static constexpr int kSchemaVersion = 3;

 private:
  void prepareSchema();
  void markLost(std::int64_t run_id, const ProcessIdentity& launcher);
  void requireRun(std::int64_t run_id, const char* operation);
  void insertRunEvent(std::int64_t run_id, const nlohmann::json& event);  // inside the caller's transaction
  sqlite::Database db_;
};

}  // namespace behemoth
