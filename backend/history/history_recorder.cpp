#include "backend/history/history_recorder.h"

#include <algorithm>
#include <stdexcept>

#include "backend/metrics/events.h"

namespace behemoth {
namespace {

std::optional<double> optionalNumber(const nlohmann::json& event, const char* key) {
  const auto found = event.find(key);
  if (found == event.end() || !found->is_number()) return std::nullopt;
  return found->get<double>();
}

}  // namespace

HistoryRecorder::~HistoryRecorder() {
  if (!run_id_ || finished_) return;
  try {
    finish(RunOutcome::failed, "the run ended without reporting an outcome", nlohmann::json::object());
  } catch (...) {
    // A destructor must not throw; the run stays marked 'running'.
  }
}

void HistoryRecorder::emit(const nlohmann::json& event) {
  const std::string type = eventType(event);
  if (type == event_type::kRunStarted) {
    if (run_id_ && !finished_ && restarting_) {
      restarting_ = false;  // the restarted workers: the same run goes on
      return;
    }
    RunStart start;
    start.name = event.value("name", std::string("untitled"));
    start.project = event.value("project", nlohmann::json::object());
    start.plan = event.value("plan", nlohmann::json::object());
    start.world_size = event.value("world_size", 1);
    start.out_dir = event.value("out_dir", std::string());
    start.parameter_count = event.value("parameter_count", std::int64_t{0});
    start.started_at = event.value("time", std::string());
    *this = HistoryRecorder(store_);  // forget the summary of any previous run
    run_id_ = store_->beginRun(start);
    return;
  }
  if (type != event_type::kStep && type != event_type::kEval && type != event_type::kRunFinished &&
      type != event_type::kRunFailed && type != event_type::kCheckpointSaved && type != event_type::kRunResumed &&
      type != event_type::kRunRestarted) {
    return;  // log lines and future event types are not history
  }
  if (!run_id_) throw std::logic_error("history recorder: '" + type + "' event before run_started");
  if (finished_) return;  // e.g. a second rank reporting the same failure
  if (type == event_type::kStep) {
    const StepMetrics metrics = StepMetrics::fromJson(event);
    store_->appendStep(*run_id_, metrics);
    last_loss_ = metrics.loss;
    if (metrics.eval_loss) last_eval_loss_ = metrics.eval_loss;
    tokens_per_s_[metrics.step] = metrics.tokens_per_s;
    peak_rss_bytes_ = std::max(peak_rss_bytes_.value_or(0), metrics.peak_rss_bytes);
    model_state_bytes_ = std::max(model_state_bytes_.value_or(0), metrics.model_state_bytes);
    last_elapsed_s_ = metrics.elapsed_s;
  } else if (type == event_type::kEval) {
    store_->appendEvent(*run_id_, event);
    last_eval_loss_ = optionalNumber(event, "eval_loss");
  } else if (type == event_type::kCheckpointSaved || type == event_type::kRunResumed) {
    store_->appendRunEvent(*run_id_, event);
  } else if (type == event_type::kRunRestarted) {
    store_->recordRestart(*run_id_, event);
    // The restarted workers log the steps after the checkpoint again.
    tokens_per_s_.erase(tokens_per_s_.upper_bound(event.value("step", std::int64_t{0})), tokens_per_s_.end());
    restarting_ = true;
  } else if (type == event_type::kRunFinished) {
    const std::string outcome = event.value("outcome", std::string("completed"));
    finish(outcome == "stopped" ? RunOutcome::stopped : RunOutcome::completed, "", event);
  } else {
    const std::string error = event.value("error", std::string("unknown error"));
    finish(RunOutcome::failed, "rank " + std::to_string(event.value("rank", 0)) + ": " + error, event);
  }
}

void HistoryRecorder::finish(RunOutcome outcome, const std::string& error, const nlohmann::json& event) {
  RunSummary summary;
  summary.final_loss = event.contains("final_loss") ? optionalNumber(event, "final_loss") : last_loss_;
  summary.final_eval_loss = event.contains("final_eval_loss") ? optionalNumber(event, "final_eval_loss") : last_eval_loss_;
  if (!tokens_per_s_.empty()) {
    double sum = 0.0;
    for (const auto& [step, rate] : tokens_per_s_) sum += rate;
    summary.tokens_per_s = sum / static_cast<double>(tokens_per_s_.size());
  }
  summary.peak_rss_bytes = peak_rss_bytes_;
  summary.model_state_bytes = model_state_bytes_;
  summary.duration_s = event.contains("duration_s") ? optionalNumber(event, "duration_s") : last_elapsed_s_;
  finished_ = true;
  store_->finishRun(*run_id_, outcome, error, summary);
}

}  // namespace behemoth
