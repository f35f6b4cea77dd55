#include "ui/series_transform.h"

#include <algorithm>
#include <cmath>

namespace behemoth::ui {

QString xAxisLabel(XAxisKind kind) {
  switch (kind) {
    case XAxisKind::step: return QStringLiteral("step");
    case XAxisKind::tokens: return QStringLiteral("tokens seen");
    case XAxisKind::wall_relative: return QStringLiteral("wall time (s)");
    case XAxisKind::wall_absolute: return QStringLiteral("time of day");
  }
  return QStringLiteral("step");
}

double Smoother::next(double value) {
  if (!std::isfinite(value) || weight_ <= 0) return value;
  average_ = weight_ * average_ + (1 - weight_) * value;
  weight_power_ *= weight_;
  return average_ / (1 - weight_power_);
}

QVector<double> smoothed(const QVector<double>& values, double weight) {
  Smoother smoother(weight);
  QVector<double> out;
  out.reserve(values.size());
  for (double value : values) out.append(smoother.next(value));
  return out;
}

namespace {

// y at x on the polyline (xs, ys), xs ascending: interpolated inside, extended by the nearest
// segment's slope outside (from the origin when there is one point).
double along(const QVector<double>& xs, const QVector<double>& ys, double x) {
  const int n = std::min(xs.size(), ys.size());
  if (n == 0) return x;
  if (n == 1) return xs[0] != 0 ? ys[0] * x / xs[0] : ys[0];
  const auto upper = std::lower_bound(xs.begin(), xs.begin() + n, x);
  int right = static_cast<int>(upper - xs.begin());
  if (right < n && xs[right] == x) return ys[right];
  right = std::clamp(right, 1, n - 1);
  const int left = right - 1;
  const double span = xs[right] - xs[left];
  if (span == 0) return ys[right];
  return ys[left] + (ys[right] - ys[left]) * (x - xs[left]) / span;
}

}  // namespace

double xOfStep(const RunSeries& run, double step, XAxisKind kind) {
  switch (kind) {
    case XAxisKind::step: return step;
    case XAxisKind::tokens: return along(run.steps, run.tokens_seen, step);
    case XAxisKind::wall_relative: return along(run.steps, run.elapsed_s, step);
    case XAxisKind::wall_absolute: return run.started_unix_s + along(run.steps, run.elapsed_s, step);
  }
  return step;
}

}  // namespace behemoth::ui
