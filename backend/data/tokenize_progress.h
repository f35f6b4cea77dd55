// The progress bar while a corpus is tokenized, e.g.
//   tokenizing builtin (583 files, 8388608 bytes): [##########..........] 50%  4.2/8.4 MB
// drawn on stderr only when stderr is a terminal (logs and pipes get no carriage returns).
#pragma once

#include <cstdint>
#include <string>

namespace behemoth {

class TokenizeProgress {
 public:
  // enabled = false draws nothing; onTerminal() says whether stderr is one.
  TokenizeProgress(std::string label, std::int64_t total_bytes, bool enabled);
  ~TokenizeProgress();  // ends the line when one was drawn
  TokenizeProgress(const TokenizeProgress&) = delete;
  TokenizeProgress& operator=(const TokenizeProgress&) = delete;

  void update(std::int64_t done_bytes);
  static bool onTerminal();

 private:
  std::string label_;
  std::int64_t total_;
  bool enabled_;
  int drawn_percent_ = -1;
};

}  // namespace behemoth
