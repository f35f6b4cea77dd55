// The device figures a plan is estimated against: the project's devices, and for CPUs a measured
// matmul roofline (never the project's model, which may not fit this machine at all).
#pragma once

#include "backend/project/project.h"
#include "memory/time_model.h"

namespace behemoth {

struct CpuRateChoice {
  double cpu_flops = 0.0;   // > 0: this peak per rank instead of a measurement
  double efficiency = 0.0;  // > 0: this achievable fraction instead of the device default
};

// deviceFromProject() with, on CPUs, peak_flops per rank = the measured matmul roofline of the
// rank's share of this machine's cores (in bf16 for bf16 projects) and compute_efficiency =
// kCpuModelEfficiency. Allocates only the roofline's three matrices.
DeviceSpec planningDevice(const Project& project, const CpuRateChoice& choice = {});

}  // namespace behemoth
