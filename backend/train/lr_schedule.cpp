#include "backend/train/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "backend/project/project.h"

namespace behemoth {

double learningRateAt(const OptimizerConfig& optimizer, int step, int total_steps) {
  const double peak = optimizer.lr;
  if (optimizer.warmup_steps > 0 && step < optimizer.warmup_steps) {
    return peak * (step + 1) / optimizer.warmup_steps;
  }
  const int decay_steps = std::max(1, total_steps - optimizer.warmup_steps - 1);
  const double progress = std::clamp(double(step - optimizer.warmup_steps) / decay_steps, 0.0, 1.0);
  const double floor = peak * optimizer.min_lr_ratio;
  return floor + (peak - floor) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace behemoth
