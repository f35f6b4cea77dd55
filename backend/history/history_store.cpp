#include "backend/history/history_store.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "backend/metrics/events.h"

namespace behemoth {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The runs table as of schema version 2 (version 1 lacked 'lost' and the launcher columns).
std::string runsTableSql(const std::string& table) {
  return "CREATE TABLE " + table + R"sql( (
  id                   INTEGER PRIMARY KEY AUTOINCREMENT,
  name                 TEXT    NOT NULL,
  project_json         TEXT    NOT NULL,
  plan_json            TEXT    NOT NULL,
  world_size           INTEGER NOT NULL,
  out_dir              TEXT    NOT NULL,
  started_at           TEXT    NOT NULL,
  finished_at          TEXT,
  outcome              TEXT    NOT NULL CHECK (outcome IN ('running', 'completed', 'failed', 'stopped', 'lost')),
  error                TEXT    NOT NULL DEFAULT '',
  final_loss           REAL,
  final_eval_loss      REAL,
  tokens_per_s         REAL,
  peak_rss_bytes       INTEGER,
  model_state_bytes    INTEGER,
  duration_s           REAL,
  parameter_count      INTEGER NOT NULL DEFAULT 0,
  tags                 TEXT    NOT NULL DEFAULT '[]',
  launcher_host        TEXT,
  launcher_pid         INTEGER,
  launcher_start_ticks INTEGER,
  launcher_boot_id     TEXT
))sql";
}

constexpr const char* kRunMetricsSql = R"sql(
CREATE TABLE run_metrics (
  run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step      INTEGER NOT NULL,
  loss      REAL,
  eval_loss REAL,
  json      TEXT,  -- the step event's fields; NULL for a row that only holds an evaluation
  PRIMARY KEY (run_id, step)
) WITHOUT ROWID;
)sql";

constexpr const char* kRunsIndexSql = "CREATE INDEX IF NOT EXISTS runs_started ON runs(started_at)";

// Version 3: the restart count, and the run's events that are neither steps nor evaluations.
constexpr const char* kVersion3Sql = R"sql(
ALTER TABLE runs ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0;
CREATE TABLE run_events (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  seq    INTEGER NOT NULL,  -- arrival order within the run
  type   TEXT    NOT NULL,
  step   INTEGER,
  json   TEXT    NOT NULL,
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
)sql";

// The columns both versions have, in the order version 1 declared them.
constexpr const char* kVersion1RunColumns =
    "id, name, project_json, plan_json, world_size, out_dir, started_at, finished_at, outcome, error, final_loss, "
    "final_eval_loss, tokens_per_s, peak_rss_bytes, model_state_bytes, duration_s, parameter_count, tags";

constexpr const char* kRunColumns =
    "id, name, project_json, plan_json, world_size, out_dir, started_at, finished_at, outcome, error, final_loss, "
    "final_eval_loss, tokens_per_s, peak_rss_bytes, model_state_bytes, duration_s, parameter_count, tags, "
    "(SELECT count(*) FROM run_metrics m WHERE m.run_id = runs.id AND m.json IS NOT NULL), "
    "(SELECT max(step) FROM run_metrics m WHERE m.run_id = runs.id AND m.json IS NOT NULL), "
    "launcher_host, launcher_pid, launcher_start_ticks, launcher_boot_id, restarts";

// Version 1 -> 2. SQLite cannot widen a CHECK constraint in place, so `runs` is rebuilt (SQLite's
// documented table-rebuild procedure): new table, copy, drop, rename. Foreign keys must be off:
// dropping `runs` with them on would cascade into run_metrics. Ids and the AUTOINCREMENT
// high-water mark are kept, so a deleted run's id is never handed out again.
void migrateVersion1To2(sqlite::Database& db) {
  std::optional<std::int64_t> sequence;
  {
    sqlite::Statement query(db, "SELECT seq FROM sqlite_sequence WHERE name = 'runs'");
    if (query.step()) sequence = query.getInt(0);
  }
  db.exec(runsTableSql("runs_v2"));
  db.exec(std::string("INSERT INTO runs_v2 (") + kVersion1RunColumns + ") SELECT " + kVersion1RunColumns + " FROM runs");
  db.exec("DROP TABLE runs");
  db.exec("ALTER TABLE runs_v2 RENAME TO runs");
  db.exec(kRunsIndexSql);
  if (sequence) {
    sqlite::Statement update(db, "UPDATE sqlite_sequence SET seq = max(seq, ?1) WHERE name = 'runs'");
    update.bind(1, *sequence).run();
    if (db.changes() == 0) {
      sqlite::Statement insert(db, "INSERT INTO sqlite_sequence (name, seq) VALUES ('runs', ?1)");
      insert.bind(1, *sequence).run();
    }
  }
}

json parseStoredJson(const std::string& text) {
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return value.is_discarded() ? json() : value;
}

std::vector<std::string> parseTags(const std::string& text) {
  std::vector<std::string> tags;
  const json list = parseStoredJson(text);
  if (!list.is_array()) return tags;
  for (const json& tag : list) {
    if (tag.is_string()) tags.push_back(tag.get<std::string>());
  }
  return tags;
}

std::string tagsToText(const std::vector<std::string>& tags) {
  json list = json::array();
  for (const std::string& tag : tags) {
    if (tag.empty()) throw std::invalid_argument("history: a tag must not be empty");
    list.push_back(tag);
  }
  return list.dump();
}

RunRecord readRun(const sqlite::Statement& row) {
  RunRecord run;
  run.id = row.getInt(0);
  run.name = row.getText(1);
  run.project = parseStoredJson(row.getText(2));
  run.plan = parseStoredJson(row.getText(3));
  run.world_size = static_cast<int>(row.getInt(4));
  run.out_dir = row.getText(5);
  run.started_at = row.getText(6);
  run.finished_at = row.getOptionalText(7);
  run.outcome = outcomeFromName(row.getText(8));
  run.error = row.getText(9);
  run.summary.final_loss = row.getOptionalDouble(10);
  run.summary.final_eval_loss = row.getOptionalDouble(11);
  run.summary.tokens_per_s = row.getOptionalDouble(12);
  run.summary.peak_rss_bytes = row.getOptionalInt(13);
  run.summary.model_state_bytes = row.getOptionalInt(14);
  run.summary.duration_s = row.getOptionalDouble(15);
  run.parameter_count = row.getInt(16);
  run.tags = parseTags(row.getText(17));
  run.logged_steps = row.getInt(18);
  run.last_step = row.getOptionalInt(19);
  if (const auto pid = row.getOptionalInt(21)) {
    ProcessIdentity launcher;
    launcher.host = row.getText(20);
    launcher.pid = *pid;
    launcher.start_ticks = row.getOptionalInt(22);
    launcher.boot_id = row.getText(23);
    run.launcher = std::move(launcher);
  }
  run.restarts = static_cast<int>(row.getInt(24));
  return run;
}

// What a launcher would have recorded at the end, from the steps that reached the history.
RunSummary summaryOfSteps(const RunDetails& details) {
  RunSummary summary;
  if (!details.evals.empty()) summary.final_eval_loss = details.evals.back().second;
  if (details.steps.empty()) return summary;
  double tokens_per_s = 0.0;
  std::int64_t peak_rss = 0;
  std::int64_t model_state = 0;
  for (const StepMetrics& step : details.steps) {
    tokens_per_s += step.tokens_per_s;
    peak_rss = std::max(peak_rss, step.peak_rss_bytes);
    model_state = std::max(model_state, step.model_state_bytes);
  }
  summary.final_loss = details.steps.back().loss;
  summary.tokens_per_s = tokens_per_s / static_cast<double>(details.steps.size());
  summary.peak_rss_bytes = peak_rss;
  summary.model_state_bytes = model_state;
  summary.duration_s = details.steps.back().elapsed_s;
  return summary;
}

std::string describeLauncher(const ProcessIdentity& launcher) {
  return "pid " + std::to_string(launcher.pid) + " on " + launcher.host;
}

// LIKE pattern matching `text` anywhere, with LIKE's wildcards taken literally (ESCAPE '\').
std::string containsPattern(const std::string& text) {
  std::string pattern = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') pattern += '\\';
    pattern += c;
  }
  return pattern + "%";
}

}  // namespace

std::string outcomeName(RunOutcome outcome) {
  switch (outcome) {
    case RunOutcome::running: return "running";
    case RunOutcome::completed: return "completed";
    case RunOutcome::failed: return "failed";
    case RunOutcome::stopped: return "stopped";
    case RunOutcome::lost: return "lost";
  }
  return "running";
}

RunOutcome outcomeFromName(const std::string& name) {
  for (RunOutcome outcome :
       {RunOutcome::running, RunOutcome::completed, RunOutcome::failed, RunOutcome::stopped, RunOutcome::lost}) {
    if (outcomeName(outcome) == name) return outcome;
  }
  throw std::invalid_argument("unknown run outcome '" + name + "' (expected running, completed, failed, stopped or lost)");
}

std::string HistoryStore::defaultPath() {
  if (const char* explicit_path = std::getenv("BEHEMOTH_HISTORY"); explicit_path && *explicit_path) return explicit_path;
  fs::path data_home;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
    data_home = xdg;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    data_home = fs::path(home) / ".local" / "share";
  } else {
    throw std::runtime_error("history database: neither BEHEMOTH_HISTORY, XDG_DATA_HOME nor HOME is set");
  }
  return (data_home / "behemoth" / "history.sqlite").string();
}

static sqlite::Database openDatabase(const std::string& path, int busy_timeout_ms) {
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code error;
    fs::create_directories(parent, error);
    if (error) throw std::runtime_error("history database " + path + ": cannot create folder " + parent.string() + ": " + error.message());
  }
  return sqlite::Database(path, busy_timeout_ms);
}

HistoryStore::HistoryStore(const std::string& path, int busy_timeout_ms) : db_(openDatabase(path, busy_timeout_ms)) {
  prepareSchema();
}

void HistoryStore::prepareSchema() {
  // Reading the mode is the first real access: a file that is not a database fails here, by path.
  std::string mode;
  {
    sqlite::Statement query(db_, "PRAGMA journal_mode");
    if (query.step()) mode = query.getText(0);
  }
  if (mode != "wal") {
    // Switching needs a moment alone with the file; another process opening it at the same
    // time may hold it briefly, so retry within the busy timeout's spirit.
    for (int attempt = 0;; ++attempt) {
      try {
        db_.exec("PRAGMA journal_mode=WAL");
        break;
      } catch (const std::runtime_error&) {
        if (attempt >= 50) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }
  // Foreign keys stay off until the schema is current: a migration rebuilds `runs`.
  db_.exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF");

  sqlite::Transaction transaction(db_);
  int version = 0;
  {
    sqlite::Statement query(db_, "PRAGMA user_version");
    if (query.step()) version = static_cast<int>(query.getInt(0));
  }
  if (version > kSchemaVersion) {
    throw std::runtime_error("history database " + path() + ": schema version " + std::to_string(version) +
                             " is newer than this build understands (" + std::to_string(kSchemaVersion) + ")");
  }
  // A new database is created as version 2 and then takes the same steps as an old one.
  if (version < 1) {
    db_.exec(runsTableSql("runs"));
    db_.exec(kRunMetricsSql);
    db_.exec(kRunsIndexSql);
  } else if (version < 2) {
    migrateVersion1To2(db_);
  }
  if (version < 3) db_.exec(kVersion3Sql);
  if (version < kSchemaVersion) db_.exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
  transaction.commit();
  db_.exec("PRAGMA foreign_keys=ON");
}

void HistoryStore::requireRun(std::int64_t run_id, const char* operation) {
  sqlite::Statement query(db_, "SELECT 1 FROM runs WHERE id = ?1");
  query.bind(1, run_id);
  if (!query.step()) {
    throw std::invalid_argument(std::string("history ") + operation + ": no run with id " + std::to_string(run_id));
  }
}

std::int64_t HistoryStore::beginRun(const RunStart& start) {
  const ProcessIdentity launcher = start.launcher.value_or(currentProcessIdentity());
  sqlite::SynchronousFull durable(db_);  // a run's start and end records survive a power cut
  sqlite::Transaction transaction(db_);
  sqlite::Statement insert(db_,
                           "INSERT INTO runs (name, project_json, plan_json, world_size, out_dir, started_at, outcome, "
                           "parameter_count, tags, launcher_host, launcher_pid, launcher_start_ticks, launcher_boot_id) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7, ?8, ?9, ?10, ?11, ?12)");
  insert.bind(1, start.name)
      .bind(2, start.project.dump())
      .bind(3, start.plan.dump())
      .bind(4, start.world_size)
      .bind(5, start.out_dir)
      .bind(6, start.started_at.empty() ? utcTimestamp() : start.started_at)
      .bind(7, start.parameter_count)
      .bind(8, tagsToText(start.tags))
      .bind(9, launcher.host)
      .bind(10, launcher.pid)
      .bind(11, launcher.start_ticks)
      .bind(12, launcher.boot_id);
  insert.run();
  const std::int64_t id = db_.lastInsertId();
  transaction.commit();
  return id;
}

void HistoryStore::appendStep(std::int64_t run_id, const StepMetrics& metrics) {
  sqlite::Transaction transaction(db_);
  requireRun(run_id, "appendStep");
  json fields = metrics.toJson();
  fields.erase("eval_loss");  // lives in its own column, shared with eval events
  sqlite::Statement upsert(db_,
                           "INSERT INTO run_metrics (run_id, step, loss, eval_loss, json) VALUES (?1, ?2, ?3, ?4, ?5) "
                           "ON CONFLICT (run_id, step) DO UPDATE SET loss = excluded.loss, json = excluded.json, "
                           "eval_loss = coalesce(excluded.eval_loss, run_metrics.eval_loss)");
  upsert.bind(1, run_id).bind(2, metrics.step).bind(3, metrics.loss).bind(4, metrics.eval_loss).bind(5, fields.dump());
  upsert.run();
  transaction.commit();
}

void HistoryStore::appendEvent(std::int64_t run_id, const json& event) {
  const std::string type = eventType(event);
  if (type == event_type::kStep) {
    appendStep(run_id, StepMetrics::fromJson(event));
    return;
  }
  if (type != event_type::kEval) {
    throw std::invalid_argument("history appendEvent: expected a step or eval event, got '" + type + "'");
  }
  if (!event.contains("step") || !event["step"].is_number_integer() || !event.contains("eval_loss")) {
    throw std::invalid_argument("history appendEvent: an eval event needs an integer step and eval_loss");
  }
  sqlite::Transaction transaction(db_);
  requireRun(run_id, "appendEvent");
  sqlite::Statement upsert(db_,
                           "INSERT INTO run_metrics (run_id, step, eval_loss) VALUES (?1, ?2, ?3) "
                           "ON CONFLICT (run_id, step) DO UPDATE SET eval_loss = excluded.eval_loss");
  const double eval_loss = event["eval_loss"].is_number() ? event["eval_loss"].get<double>() : std::nan("");
  upsert.bind(1, run_id).bind(2, event["step"].get<std::int64_t>()).bind(3, eval_loss);
  upsert.run();
  transaction.commit();
}

void HistoryStore::finishRun(std::int64_t run_id, RunOutcome outcome, const std::string& error, const RunSummary& summary) {
  sqlite::SynchronousFull durable(db_);
  sqlite::Transaction transaction(db_);
  requireRun(run_id, "finishRun");
  sqlite::Statement update(db_,
                           "UPDATE runs SET finished_at = ?2, outcome = ?3, error = ?4, final_loss = ?5, final_eval_loss = ?6, "
                           "tokens_per_s = ?7, peak_rss_bytes = ?8, model_state_bytes = ?9, duration_s = ?10 WHERE id = ?1");
  update.bind(1, run_id)
      .bind(2, utcTimestamp())
      .bind(3, outcomeName(outcome))
      .bind(4, error)
      .bind(5, summary.final_loss)
      .bind(6, summary.final_eval_loss)
      .bind(7, summary.tokens_per_s)
      .bind(8, summary.peak_rss_bytes)
      .bind(9, summary.model_state_bytes)
      .bind(10, summary.duration_s);
  update.run();
  transaction.commit();
}

void HistoryStore::appendRunEvent(std::int64_t run_id, const json& event) {
  sqlite::Transaction transaction(db_);
  insertRunEvent(run_id, event);
  transaction.commit();
}

void HistoryStore::insertRunEvent(std::int64_t run_id, const json& event) {
  const std::string type = eventType(event);
  if (type != event_type::kCheckpointSaved && type != event_type::kRunResumed && type != event_type::kRunRestarted) {
    throw std::invalid_argument("history appendRunEvent: expected a checkpoint_saved, run_resumed or run_restarted event, got '" +
                                type + "'");
  }
  requireRun(run_id, "appendRunEvent");
  sqlite::Statement insert(db_,
                           "INSERT INTO run_events (run_id, seq, type, step, json) VALUES (?1, "
                           "(SELECT coalesce(max(seq), 0) + 1 FROM run_events WHERE run_id = ?1), ?2, ?3, ?4)");
  const auto step = event.find("step");
  insert.bind(1, run_id).bind(2, type);
  if (step != event.end() && step->is_number_integer()) {
    insert.bind(3, step->get<std::int64_t>());
  } else {
    insert.bindNull(3);
  }
  insert.bind(4, event.dump());
  insert.run();
}

void HistoryStore::recordRestart(std::int64_t run_id, const json& event) {
  if (eventType(event) != event_type::kRunRestarted) {
    throw std::invalid_argument("history recordRestart: expected a run_restarted event, got '" + eventType(event) + "'");
  }
  const auto step = event.find("step");
  const std::int64_t resumed_at = step != event.end() && step->is_number_integer() ? step->get<std::int64_t>() : 0;
  sqlite::SynchronousFull durable(db_);
  sqlite::Transaction transaction(db_);
  insertRunEvent(run_id, event);
  sqlite::Statement count(db_, "UPDATE runs SET restarts = restarts + 1 WHERE id = ?1");
  count.bind(1, run_id).run();
  sqlite::Statement forget(db_, "DELETE FROM run_metrics WHERE run_id = ?1 AND step > ?2");
  forget.bind(1, run_id).bind(2, resumed_at).run();
  transaction.commit();
}

std::vector<std::int64_t> HistoryStore::markLostRuns() {
  std::vector<std::pair<std::int64_t, ProcessIdentity>> running;
  {
    sqlite::Statement query(db_,
                            "SELECT id, launcher_pid, launcher_start_ticks, launcher_boot_id FROM runs "
                            "WHERE outcome = 'running' AND launcher_pid IS NOT NULL AND launcher_host = ?1 ORDER BY id");
    query.bind(1, currentHostName());
    while (query.step()) {
      ProcessIdentity launcher;
      launcher.host = currentHostName();
      launcher.pid = query.getInt(1);
      launcher.start_ticks = query.getOptionalInt(2);
      launcher.boot_id = query.getText(3);
      running.emplace_back(query.getInt(0), std::move(launcher));
    }
  }
  std::vector<std::int64_t> marked;
  for (const auto& [id, launcher] : running) {
    if (processState(launcher) != ProcessState::gone) continue;
    markLost(id, launcher);
    marked.push_back(id);
  }
  return marked;
}

void HistoryStore::markLost(std::int64_t run_id, const ProcessIdentity& launcher) {
  sqlite::SynchronousFull durable(db_);
  sqlite::Transaction transaction(db_);
  const std::optional<RunDetails> details = getRun(run_id);
  // Another process may have marked it, or deleted it, since it was read.
  if (!details || details->run.outcome != RunOutcome::running) return;
  const RunSummary summary = summaryOfSteps(*details);
  const std::string last = details->run.last_step ? "last step in the history: " + std::to_string(*details->run.last_step)
                                                  : "no step reached the history";
  const std::string error = "the launcher (" + describeLauncher(launcher) +
                            ") ended without recording an outcome (killed or crashed); " + last;
  sqlite::Statement update(db_,
                           "UPDATE runs SET outcome = 'lost', error = ?2, final_loss = ?3, final_eval_loss = ?4, "
                           "tokens_per_s = ?5, peak_rss_bytes = ?6, model_state_bytes = ?7, duration_s = ?8 "
                           "WHERE id = ?1 AND outcome = 'running'");
  update.bind(1, run_id)
      .bind(2, error)
      .bind(3, summary.final_loss)
      .bind(4, summary.final_eval_loss)
      .bind(5, summary.tokens_per_s)
      .bind(6, summary.peak_rss_bytes)
      .bind(7, summary.model_state_bytes)
      .bind(8, summary.duration_s);
  update.run();
  transaction.commit();
}

std::vector<RunRecord> HistoryStore::listRuns(const std::string& filter, RunOrder order, int limit) {
  std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs";
  if (!filter.empty()) sql += " WHERE name LIKE ?1 ESCAPE '\\' OR tags LIKE ?1 ESCAPE '\\' OR outcome LIKE ?1 ESCAPE '\\'";
  switch (order) {
    case RunOrder::newest_first: sql += " ORDER BY id DESC"; break;
    case RunOrder::oldest_first: sql += " ORDER BY id ASC"; break;
    case RunOrder::best_loss_first: sql += " ORDER BY final_loss IS NULL, final_loss ASC, id DESC"; break;
  }
  if (limit > 0) sql += " LIMIT " + std::to_string(limit);
  sqlite::Statement query(db_, sql);
  if (!filter.empty()) query.bind(1, containsPattern(filter));
  std::vector<RunRecord> runs;
  while (query.step()) runs.push_back(readRun(query));
  return runs;
}

std::optional<RunDetails> HistoryStore::getRun(std::int64_t id) {
  RunDetails details;
  {
    sqlite::Statement query(db_, std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?1");
    query.bind(1, id);
    if (!query.step()) return std::nullopt;
    details.run = readRun(query);
  }
  sqlite::Statement metrics(db_, "SELECT step, eval_loss, json FROM run_metrics WHERE run_id = ?1 ORDER BY step");
  metrics.bind(1, id);
  while (metrics.step()) {
    const std::int64_t step = metrics.getInt(0);
    const std::optional<double> eval_loss = metrics.getOptionalDouble(1);
    if (eval_loss) details.evals.emplace_back(step, *eval_loss);
    if (const auto fields = metrics.getOptionalText(2)) {
      StepMetrics row = StepMetrics::fromJson(parseStoredJson(*fields));
      row.eval_loss = eval_loss;
      details.steps.push_back(std::move(row));
    }
  }
  sqlite::Statement events(db_, "SELECT json FROM run_events WHERE run_id = ?1 ORDER BY seq");
  events.bind(1, id);
  while (events.step()) {
    json event = parseStoredJson(events.getText(0));
    if (event.is_object()) details.events.push_back(std::move(event));
  }
  return details;
}

bool HistoryStore::deleteRun(std::int64_t id) {
  sqlite::Transaction transaction(db_);
  sqlite::Statement remove(db_, "DELETE FROM runs WHERE id = ?1");
  remove.bind(1, id);
  remove.run();
  const bool removed = db_.changes() > 0;
  transaction.commit();
  return removed;
}

void HistoryStore::setTags(std::int64_t id, const std::vector<std::string>& tags) {
  sqlite::Transaction transaction(db_);
  requireRun(id, "setTags");
  sqlite::Statement update(db_, "UPDATE runs SET tags = ?2 WHERE id = ?1");
  update.bind(1, id).bind(2, tagsToText(tags));
  update.run();
  transaction.commit();
}

}  // namespace behemoth
