// Splits a server-sent-event body into its events' data as the bytes arrive: a network read may
// end anywhere, mid-line or mid-character, so bytes wait here until their event is complete
// (a blank line). Qt-free; the completion client feeds it.
#pragma once

#include <string>
#include <vector>

namespace behemoth::ui {

class ServeEventStream {
 public:
  // Adds bytes; returns the data of every event they completed, in order (an event with several
  // `data:` lines joins them with '\n', as the SSE format says).
  std::vector<std::string> feed(const std::string& bytes);
  // Bytes of an event not yet ended by a blank line.
  bool hasPartialEvent() const { return !pending_.empty() || !data_.empty() || has_data_; }

 private:
  void takeLine(std::string line, std::vector<std::string>& events);

  std::string pending_;  // the unfinished line
  std::string data_;     // the current event's data so far
  bool has_data_ = false;
};

}  // namespace behemoth::ui
