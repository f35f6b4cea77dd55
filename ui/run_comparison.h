// What differs between two or more recorded runs: every project/plan field whose value is not
// the same in all of them, then their results side by side.
#pragma once

#include <QString>
#include <QStringList>

#include <vector>

#include "backend/history/history_store.h"

namespace behemoth::ui {

struct ComparisonRow {
  QString field;         // "parallel.zero", "model.n_layer", "final loss"
  QStringList values;    // one per run
  bool is_result = false;
};

// Differing settings first (flattened dotted paths of the project, with the resolved plan as
// `parallel.*`), then every result row (final loss, eval loss, tokens/s, peak RSS, model state,
// duration, outcome, steps).
std::vector<ComparisonRow> compareRuns(const std::vector<RunDetails>& runs);

}  // namespace behemoth::ui
