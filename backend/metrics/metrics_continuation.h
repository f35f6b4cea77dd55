// A run that continues from a checkpoint keeps writing the same OUT_DIR/metrics.jsonl: what was
// logged up to the checkpoint's step stays, what a crashed attempt logged after it goes, so no
// step appears twice once the resumed run has logged it again.
#pragma once

#include <cstdint>
#include <string>

namespace behemoth {

// Rewrites `path` keeping every complete line except events whose "step" is greater than `step`
// (lines without a step stay). A torn last line (the process died while writing it) and any line
// that is not a JSON object are dropped too, so the next append starts on a fresh line. Atomic: a
// temporary file beside it, fsynced, renamed over it. A missing file is left missing.
// Throws std::runtime_error naming the file when it cannot be read or written.
void truncateMetricsAfterStep(const std::string& path, std::int64_t step);

// OUT_DIR/metrics.jsonl continued at `step` (0: a run that starts over keeps nothing of its steps).
void continueMetricsFile(const std::string& out_dir, std::int64_t step);

}  // namespace behemoth
