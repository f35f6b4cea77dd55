#include "backend/launch/line_splitter.h"

namespace behemoth {

void LineSplitter::feed(std::string_view bytes, const LineHandler& on_line) {
  while (!bytes.empty()) {
    const std::size_t newline = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, newline);
    const std::size_t room = max_line_bytes_ - pending_.size();
    if (piece.size() > room) {  // cut only a full line with more of it still to come
      pending_.append(piece.substr(0, room));
      bytes.remove_prefix(room);
      emit(on_line);
      continue;
    }
    pending_.append(piece);
    if (newline == std::string_view::npos) {
      return;
    }
    bytes.remove_prefix(newline + 1);
    if (!pending_.empty() && pending_.back() == '\r') {
      pending_.pop_back();
    }
    emit(on_line);
  }
}

void LineSplitter::finish(const LineHandler& on_line) {
  if (!pending_.empty()) {
    emit(on_line);
  }
}

void LineSplitter::emit(const LineHandler& on_line) {
  // Clear before calling out so a throwing handler cannot leave the line to be emitted twice.
  std::string line;
  line.swap(pending_);
  on_line(line);
}

}  // namespace behemoth
