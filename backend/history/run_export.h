// A recorded run's logged steps as a file other tools read: CSV (one row per step, one column per
// scalar metric, one per communication axis) or JSON lines (each line the run's `step` event with
// every field, per-rank figures too). `behemoth history export ID --format csv|jsonl`.
#pragma once

#include <string>

#include "backend/history/history_store.h"

namespace behemoth {

enum class ExportFormat { csv, jsonl };
// "csv" or "jsonl"; throws std::invalid_argument naming --format otherwise.
ExportFormat exportFormatFromName(const std::string& name);

// A header line, then one line per logged step in step order. Numbers are written so that they read
// back exactly (the fewest of 15-17 significant digits that do); a missing value (no evaluation at that step) is empty.
std::string runToCsv(const RunDetails& details);
// One {"event": "step", ...} line per logged step (StepMetrics::toJson, with "run" the run's id).
std::string runToJsonLines(const RunDetails& details);

}  // namespace behemoth
