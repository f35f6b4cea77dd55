// Turns the bytes a worker writes to a pipe into whole lines, whatever the chunking of read().
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace behemoth {

class LineSplitter {
 public:
  using LineHandler = std::function<void(const std::string& line)>;

  // A line longer than max_line_bytes is handed over in pieces of that size, so a worker that
  // never writes a newline cannot grow the launcher's memory without bound.
  explicit LineSplitter(std::size_t max_line_bytes = 1 << 20)
      : max_line_bytes_(max_line_bytes > 0 ? max_line_bytes : 1) {}

  // Emits every line completed by `bytes`, without its "\n" (and without a "\r" before it).
  void feed(std::string_view bytes, const LineHandler& on_line);
  // End of stream: emits the unterminated last line, if any.
  void finish(const LineHandler& on_line);

 private:
  void emit(const LineHandler& on_line);

  std::size_t max_line_bytes_;
  std::string pending_;
};

}  // namespace behemoth
