// Where events go: files, a worker's stdout (marker lines its launcher parses), callbacks, several at once.
#pragma once

#include <nlohmann/json.hpp>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace behemoth {

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void emit(const nlohmann::json& event) = 0;
};

// Appends one JSON object per line and flushes it, so a crash loses at most the line being written.
// With `only_events` non-empty, other event types are skipped.
class JsonlFileSink : public EventSink {
 public:
  explicit JsonlFileSink(const std::string& path, std::set<std::string> only_events = {});
  void emit(const nlohmann::json& event) override;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::set<std::string> only_events_;
  std::ofstream file_;
  std::mutex mutex_;
};

// OUT_DIR/metrics.jsonl: the step, eval and checkpoint_saved events of a run (creates OUT_DIR).
std::unique_ptr<JsonlFileSink> makeMetricsFileSink(const std::string& out_dir);

// How a worker hands events to its launcher: one "@behemoth-event {json}" line per event on a
// stream (stdout) that may also carry ordinary log text.
inline constexpr const char* kEventMarker = "@behemoth-event ";

class MarkerLineSink : public EventSink {
 public:
  explicit MarkerLineSink(std::ostream& out) : out_(out) {}
  void emit(const nlohmann::json& event) override;

 private:
  std::ostream& out_;
  std::mutex mutex_;
};

// The event of a marker line; nullopt for any other line (plain output, or a malformed marker).
std::optional<nlohmann::json> parseMarkerLine(const std::string& line);

class CallbackSink : public EventSink {
 public:
  explicit CallbackSink(std::function<void(const nlohmann::json&)> callback) : callback_(std::move(callback)) {}
  void emit(const nlohmann::json& event) override { callback_(event); }

 private:
  std::function<void(const nlohmann::json&)> callback_;
};

// Forwards each event to every sink; a sink that throws does not starve the others (the first
// error is rethrown once all have seen the event).
class FanoutSink : public EventSink {
 public:
  void add(std::shared_ptr<EventSink> sink);
  void emit(const nlohmann::json& event) override;
  std::size_t size() const { return sinks_.size(); }

 private:
  std::vector<std::shared_ptr<EventSink>> sinks_;
};

}  // namespace behemoth
