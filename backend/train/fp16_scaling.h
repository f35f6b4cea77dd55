// What fp16 training asks of a ZeRO optimizer (stages 1, 2 and 3 alike): dynamic loss scaling with
// the project's optimizer.loss_scale and loss_scale_window, and -- where the working parameters
// are not fp16 tensors (a CPU computes fp16 training in fp32) -- working values rounded to fp16.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>

#include "backend/project/project.h"
#include "parallel/zero/loss_scaler.h"

namespace behemoth {

struct Fp16Scaling {
  std::optional<LossScalerOptions> loss_scaling;  // empty unless precision is fp16
  std::optional<at::ScalarType> round_working_to;
};

inline Fp16Scaling fp16ScalingFor(const Project& project, const at::Tensor& first_working_parameter) {
  Fp16Scaling scaling;
  if (project.precision != Precision::fp16) return scaling;
  LossScalerOptions options;
  options.initial_scale = project.optimizer.loss_scale;
  options.growth_interval = project.optimizer.loss_scale_window;
  scaling.loss_scaling = options;
  if (first_working_parameter.scalar_type() != at::kHalf) scaling.round_working_to = at::kHalf;
  return scaling;
}

}  // namespace behemoth
