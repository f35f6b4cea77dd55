#include "backend/metrics/event_sink.h"

#include <exception>
#include <filesystem>
#include <stdexcept>

#include "backend/metrics/events.h"

namespace behemoth {

using nlohmann::json;

JsonlFileSink::JsonlFileSink(const std::string& path, std::set<std::string> only_events)
    : path_(path), only_events_(std::move(only_events)), file_(path, std::ios::app) {
  if (!file_) throw std::runtime_error("event file " + path + ": cannot be opened for appending");
}

void JsonlFileSink::emit(const json& event) {
  if (!only_events_.empty() && only_events_.count(eventType(event)) == 0) return;
  const std::string line = event.dump() + "\n";
  const std::lock_guard<std::mutex> lock(mutex_);
  file_ << line;
  file_.flush();
  if (!file_) throw std::runtime_error("event file " + path_ + ": write failed");
}

std::unique_ptr<JsonlFileSink> makeMetricsFileSink(const std::string& out_dir) {
  std::filesystem::create_directories(out_dir);
  const std::string path = (std::filesystem::path(out_dir) / "metrics.jsonl").string();
  // Checkpoint saves too, so a metrics file opened later still shows where the run can resume.
  return std::make_unique<JsonlFileSink>(path, std::set<std::string>{event_type::kStep, event_type::kEval,
                                                                     event_type::kCheckpointSaved});
}

void MarkerLineSink::emit(const json& event) {
  // One write per line so lines from several threads never interleave.
  const std::string line = kEventMarker + event.dump() + "\n";
  const std::lock_guard<std::mutex> lock(mutex_);
  out_ << line;
  out_.flush();
}

std::optional<json> parseMarkerLine(const std::string& line) {
  const std::string marker = kEventMarker;
  if (line.compare(0, marker.size(), marker) != 0) return std::nullopt;
  std::string body = line.substr(marker.size());
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  json event = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (event.is_discarded() || !event.is_object()) return std::nullopt;
  return event;
}

void FanoutSink::add(std::shared_ptr<EventSink> sink) {
  if (!sink) throw std::invalid_argument("FanoutSink::add: null sink");
  sinks_.push_back(std::move(sink));
}

void FanoutSink::emit(const json& event) {
  std::exception_ptr first_error;
  for (const auto& sink : sinks_) {
    try {
      sink->emit(event);
    } catch (...) {
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace behemoth
