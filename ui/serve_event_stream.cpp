#include "ui/serve_event_stream.h"

namespace behemoth::ui {

std::vector<std::string> ServeEventStream::feed(const std::string& bytes) {
  std::vector<std::string> events;
  pending_ += bytes;
  std::size_t start = 0;
  std::size_t newline;
  while ((newline = pending_.find('\n', start)) != std::string::npos) {
    std::string line = pending_.substr(start, newline - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    takeLine(std::move(line), events);
    start = newline + 1;
  }
  pending_.erase(0, start);
  return events;
}

void ServeEventStream::takeLine(std::string line, std::vector<std::string>& events) {
  if (line.empty()) {  // the blank line that ends an event
    if (has_data_) events.push_back(std::move(data_));
    data_.clear();
    has_data_ = false;
    return;
  }
  if (line.front() == ':') return;  // a comment (keep-alive)
  const std::size_t colon = line.find(':');
  const std::string field = line.substr(0, colon);
  if (field != "data") return;  // event, id, retry: the completions stream does not use them
  std::string value = colon == std::string::npos ? std::string() : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.erase(0, 1);
  if (has_data_) data_ += '\n';
  data_ += value;
  has_data_ = true;
}

}  // namespace behemoth::ui
