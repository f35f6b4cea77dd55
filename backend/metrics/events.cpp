#include "backend/metrics/events.h"

#include <chrono>
#include <ctime>

namespace behemoth {

using nlohmann::json;

std::string utcTimestamp() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

json runStartedEvent(const RunStartedInfo& info) {
  return {{"event", event_type::kRunStarted},
          {"time", utcTimestamp()},
          {"name", info.name},
          {"project", info.project},
          {"plan", info.plan},
          {"world_size", info.world_size},
          {"out_dir", info.out_dir},
          {"parameter_count", info.parameter_count},
          {"total_steps", info.total_steps},
          {"tokenizer", info.tokenizer},
          {"tokens", info.tokens}};
}

json stepEvent(const StepMetrics& metrics) {
  json event = metrics.toJson();
  event["event"] = event_type::kStep;
  return event;
}

json evalEvent(std::int64_t step, double eval_loss) {
  return {{"event", event_type::kEval}, {"step", step}, {"eval_loss", eval_loss}};
}

json logEvent(const std::string& text, int rank) {
  return {{"event", event_type::kLog}, {"text", text}, {"rank", rank}};
}

json runFinishedEvent(double final_loss, std::optional<double> final_eval_loss, double duration_s,
                      const std::string& outcome) {
  json event = {{"event", event_type::kRunFinished},
                {"time", utcTimestamp()},
                {"outcome", outcome},
                {"final_loss", final_loss},
                {"duration_s", duration_s}};
  if (final_eval_loss) event["final_eval_loss"] = *final_eval_loss;
  return event;
}

json runFailedEvent(const std::string& error, int rank) {
  return {{"event", event_type::kRunFailed}, {"time", utcTimestamp()}, {"error", error}, {"rank", rank}};
}

json checkpointSavedEvent(const CheckpointSavedInfo& info) {
  return {{"event", event_type::kCheckpointSaved}, {"time", utcTimestamp()}, {"step", info.step},
          {"path", info.path}, {"bytes", info.bytes}, {"stall_s", info.stall_s}, {"write_s", info.write_s},
          {"async", info.async}, {"reason", info.reason}};
}

json runResumedEvent(std::int64_t step, const std::string& checkpoint, const std::string& saved_layout, double load_s,
                     std::int64_t bytes_read) {
  return {{"event", event_type::kRunResumed}, {"time", utcTimestamp()}, {"step", step},
          {"checkpoint", checkpoint}, {"saved_layout", saved_layout}, {"load_s", load_s}, {"bytes_read", bytes_read}};
}

json runRestartedEvent(int restart, int max_restarts, const std::string& reason, const std::string& checkpoint,
                       std::int64_t step) {
  return {{"event", event_type::kRunRestarted}, {"time", utcTimestamp()}, {"restart", restart},
          {"max_restarts", max_restarts}, {"reason", reason}, {"checkpoint", checkpoint}, {"step", step}};
}

std::string eventType(const json& event) {
  if (!event.is_object()) return "";
  const auto found = event.find("event");
  return found != event.end() && found->is_string() ? found->get<std::string>() : "";
}

}  // namespace behemoth
