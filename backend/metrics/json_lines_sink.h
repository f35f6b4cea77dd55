// Events as plain JSON lines on a stream: `behemoth run --events` prints them on stdout for the
// Studio (or any program) to read; see docs/events.md.
#pragma once

#include <mutex>
#include <ostream>

#include "backend/metrics/event_sink.h"

namespace behemoth {

class JsonLinesSink : public EventSink {
 public:
  explicit JsonLinesSink(std::ostream& out) : out_(out) {}
  void emit(const nlohmann::json& event) override {
    const std::lock_guard<std::mutex> lock(mutex_);
    out_ << event.dump() << '\n' << std::flush;
  }

 private:
  std::ostream& out_;
  std::mutex mutex_;
};

}  // namespace behemoth
