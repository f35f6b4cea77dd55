// What differs between two or more recorded runs: every project/plan field whose value is not
// the same in all of them, then their results side by side.
#pragma once

#include <QString>
#include <QStringList>

#include <map>
#include <string>
#include <vector>

#include "backend/history/history_store.h"

namespace behemoth::ui {

struct ComparisonRow {
  QString field;         // "parallel.zero", "model.n_layer", "final loss"
  QStringList values;    // one per run
  bool is_result = false;
  bool differs = true;   // a setting whose value is not the same in every run
};

// A run's settings as flattened dotted paths ("parallel.zero" -> "2"), resolved: the recorded
// project read back by the engine with every default filled in (so a key one run's file left out
// equals the default another wrote), the resolved plan as `parallel.*`. A project this build can
// no longer read (a tokenizer file gone) falls back to the defaults laid under what it recorded.
// Without train.out_dir and name, which differ by design.
std::map<std::string, std::string> resolvedSettings(const RunRecord& run);

// Settings first (only those that differ unless `all_settings`), then every result row (final
// loss, eval loss, tokens/s, peak RSS, model state, duration, outcome, steps).
std::vector<ComparisonRow> compareRuns(const std::vector<RunDetails>& runs, bool all_settings = false);

}  // namespace behemoth::ui
