// Dynamic loss scaling for fp16: the loss is multiplied by scale() before backward so small
// gradients survive fp16; a step whose gradients hold inf/NaN on any rank is skipped on every rank
// and the scale halves; after `growth_interval` clean steps in a row it doubles.
#pragma once

#include <cstdint>

namespace behemoth {

struct LossScalerOptions {
  double initial_scale = 65536.0;
  int growth_interval = 1000;
  double min_scale = 1.0;
};

class LossScaler {
 public:
  explicit LossScaler(LossScalerOptions options = {}) : options_(options), scale_(options.initial_scale) {}
  double scale() const { return scale_; }
  int cleanSteps() const { return clean_steps_; }
  // Puts back a saved state (a resumed run).
  void restore(double scale, int clean_steps) {
    scale_ = scale;
    clean_steps_ = clean_steps;
  }
  // Records the outcome of one step (found_overflow: on any rank) and adjusts the scale.
  void update(bool found_overflow) {
    if (found_overflow) {
      scale_ = scale_ / 2 < options_.min_scale ? options_.min_scale : scale_ / 2;
      clean_steps_ = 0;
    } else if (++clean_steps_ >= options_.growth_interval) {
      scale_ *= 2;
      clean_steps_ = 0;
    }
  }

 private:
  LossScalerOptions options_;
  double scale_;
  int clean_steps_ = 0;
};

}  // namespace behemoth
