// Records a run in the history from its event stream alone: run_started -> beginRun,
// step/eval -> appendEvent, checkpoint_saved/run_resumed -> appendRunEvent, run_restarted ->
// recordRestart, run_finished/run_failed -> finishRun. The run_started that follows a
// run_restarted (the restarted workers announcing themselves) continues the same run.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>

#include "backend/history/history_store.h"
#include "backend/metrics/event_sink.h"

namespace behemoth {

class HistoryRecorder : public EventSink {
 public:
  explicit HistoryRecorder(std::shared_ptr<HistoryStore> store) : store_(std::move(store)) {}
  // A run that started but never reported an outcome (its launcher unwound) is marked failed. A
  // launcher killed outright never gets here: HistoryStore::markLostRuns marks its run lost.
  ~HistoryRecorder() override;

  void emit(const nlohmann::json& event) override;
  // The id of the run being (or last) recorded.
  std::optional<std::int64_t> runId() const { return run_id_; }

 private:
  void finish(RunOutcome outcome, const std::string& error, const nlohmann::json& event);

  std::shared_ptr<HistoryStore> store_;
  std::optional<std::int64_t> run_id_;
  bool finished_ = false;
  bool restarting_ = false;  // a run_restarted arrived; its workers' run_started is not a new run
  // Summary figures gathered from step events, for the runs table.
  std::optional<double> last_loss_;
  std::optional<double> last_eval_loss_;
  std::map<std::int64_t, double> tokens_per_s_;  // by step: a step logged again after a restart counts once
  std::optional<std::int64_t> peak_rss_bytes_;
  std::optional<std::int64_t> model_state_bytes_;
  std::optional<double> last_elapsed_s_;
};

}  // namespace behemoth
