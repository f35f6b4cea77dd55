#include "backend/data/tokenize_progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace behemoth {

TokenizeProgress::TokenizeProgress(std::string label, std::int64_t total_bytes, bool enabled)
    : label_(std::move(label)), total_(std::max<std::int64_t>(total_bytes, 1)), enabled_(enabled) {
  update(0);
}

TokenizeProgress::~TokenizeProgress() {
  if (enabled_ && drawn_percent_ >= 0) std::fputc('\n', stderr);
}

bool TokenizeProgress::onTerminal() { return ::isatty(STDERR_FILENO) == 1; }

void TokenizeProgress::update(std::int64_t done_bytes) {
  if (!enabled_) return;
  const int percent = static_cast<int>(std::clamp<std::int64_t>(done_bytes * 100 / total_, 0, 100));
  if (percent == drawn_percent_) return;  // redraw only when the figure changes
  drawn_percent_ = percent;
  constexpr int kWidth = 20;
  const int filled = percent * kWidth / 100;
  const std::string bar = std::string(static_cast<std::size_t>(filled), '#') + std::string(static_cast<std::size_t>(kWidth - filled), '.');
  std::fprintf(stderr, "\rtokenizing %s: [%s] %3d%%  %.1f/%.1f MB", label_.c_str(), bar.c_str(), percent,
               double(done_bytes) / 1e6, double(total_) / 1e6);
  std::fflush(stderr);
}

}  // namespace behemoth
