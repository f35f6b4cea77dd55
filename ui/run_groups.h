// Runs grouped by the value of one plan or project field ("parallel.zero", "precision"), by their
// tags ("tags", or "tag:baseline": tagged against not),
// and a group's curve: the mean of its runs at each x every one of them logged, with the lowest
// and highest run around it (the band the compare charts fill).
#pragma once

#include <QString>
#include <QStringList>
#include <QVector>

#include <vector>

#include "backend/history/history_store.h"

namespace behemoth::ui {

struct RunGroup {
  QString value;             // the field's value these runs share ("2"; "–" where it is absent)
  std::vector<int> members;  // indices into the runs given
  QString label() const;     // "parallel.zero = 2 (3 runs)" without the field: "2 (3 runs)"
};

// The fields a user can group by: every resolved setting with at least two distinct values
// among `runs`, then "tags", then "tag:NAME" for each tag some of the runs have and some not.
QStringList groupableFields(const std::vector<RunDetails>& runs);
// Groups in order of first appearance. `field` "tags": runs with the same tag list; "tag:NAME":
// the runs tagged NAME ("NAME") against the others ("not NAME").
std::vector<RunGroup> groupRuns(const std::vector<RunDetails>& runs, const QString& field);

// One group's curve from its members' series (x ascending each): the x values every member has,
// with the mean, minimum and maximum of their y there.
struct GroupCurve {
  QVector<double> x, mean, low, high;
};
GroupCurve groupCurve(const std::vector<const QVector<double>*>& xs, const std::vector<const QVector<double>*>& ys);

}  // namespace behemoth::ui
