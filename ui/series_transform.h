// How the compare charts read a run's points: which x axis (step, tokens seen, wall-clock time)
// and how much smoothing. Pure arithmetic on the series, testable without a widget.
#pragma once

#include <QString>
#include <QVector>

#include "ui/run_series.h"

namespace behemoth::ui {

enum class XAxisKind { step, tokens, wall_relative, wall_absolute };
QString xAxisLabel(XAxisKind kind);  // "step", "tokens seen", "wall time (s)", "time of day"

// An exponential moving average with the start debiased, as TensorBoard smooths: the running
// average starts from zero and is divided by 1 - weight^n, so the first smoothed point equals
// the first raw point and early points are not pulled towards zero. weight 0 = the raw series.
// Non-finite values (a diverged loss) are passed through and do not poison what follows.
class Smoother {
 public:
  explicit Smoother(double weight) : weight_(weight) {}
  double next(double value);

 private:
  double weight_;
  double average_ = 0;
  double weight_power_ = 1;  // weight^n of the n finite values seen
};
QVector<double> smoothed(const QVector<double>& values, double weight);

// Where the point logged at `step` of `run` sits on the x axis: the step itself, the tokens seen
// after it, or the seconds since the run started (since 1970 for wall_absolute). A step between
// logged steps is interpolated; one outside them keeps the nearest rate.
double xOfStep(const RunSeries& run, double step, XAxisKind kind);

}  // namespace behemoth::ui
