// The event stream of a run: one JSON object per event with an "event" field. The Studio, the
// launcher, metrics.jsonl and the history all read it. Format: docs/events.md.
#pragma once

#include <nlohmann/json.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "backend/metrics/step_metrics.h"

namespace behemoth {

namespace event_type {
inline constexpr const char* kRunStarted = "run_started";
inline constexpr const char* kStep = "step";
inline constexpr const char* kEval = "eval";
inline constexpr const char* kLog = "log";
inline constexpr const char* kRunFinished = "run_finished";
inline constexpr const char* kRunFailed = "run_failed";
inline constexpr const char* kCheckpointSaved = "checkpoint_saved";
inline constexpr const char* kRunResumed = "run_resumed";
inline constexpr const char* kRunRestarted = "run_restarted";
}  // namespace event_type

struct RunStartedInfo {
  std::string name;
  nlohmann::json project;  // projectToJson of the project as run (overrides applied)
  nlohmann::json plan;     // planToJson of the resolved plan
  int world_size = 1;
  std::string out_dir;
  std::int64_t parameter_count = 0;
  int total_steps = 0;
  std::string tokenizer = "byte";  // the tokenizer's kind (data.tokenizer)
  std::int64_t tokens = 0;         // tokens the batches are drawn from (the corpus's bytes for "byte")
};

// Current UTC time as ISO 8601 ("2024-05-01T12:34:56Z").
std::string utcTimestamp();

nlohmann::json runStartedEvent(const RunStartedInfo& info);
nlohmann::json stepEvent(const StepMetrics& metrics);
nlohmann::json evalEvent(std::int64_t step, double eval_loss);
nlohmann::json logEvent(const std::string& text, int rank = 0);
// outcome: "completed" or "stopped" (the user stopped it).
nlohmann::json runFinishedEvent(double final_loss, std::optional<double> final_eval_loss, double duration_s,
                                const std::string& outcome = "completed");
nlohmann::json runFailedEvent(const std::string& error, int rank);

// A checkpoint of `step` became complete (its directory renamed into place, `latest` updated).
// stall_s: how long training waited for it (the staging copy; the whole write when synchronous);
// write_s: from the snapshot until `latest` named it.
struct CheckpointSavedInfo {
  std::int64_t step = 0;
  std::string path;
  std::int64_t bytes = 0;
  double stall_s = 0.0;
  double write_s = 0.0;
  bool async = false;
  std::string reason;  // "every" (train.checkpoint_every), "final", "stop" (SIGINT/SIGTERM)
};
nlohmann::json checkpointSavedEvent(const CheckpointSavedInfo& info);
// The run continues from a checkpoint (after run_started): the next step is step + 1. load_s: the
// slowest rank's load; bytes_read: what all ranks read from the checkpoint's files.
nlohmann::json runResumedEvent(std::int64_t step, const std::string& checkpoint, const std::string& saved_layout,
                               double load_s = 0.0, std::int64_t bytes_read = 0);
// The launcher restarted every worker after a failure (--max-restarts). checkpoint: the one the
// workers resume from, empty when none existed yet (they start over).
nlohmann::json runRestartedEvent(int restart, int max_restarts, const std::string& reason, const std::string& checkpoint,
                                 std::int64_t step);

// The "event" field, or "" when there is none.
std::string eventType(const nlohmann::json& event);

}  // namespace behemoth
