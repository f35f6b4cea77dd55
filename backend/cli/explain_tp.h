// `behemoth plan PROJECT --explain-tp [--explain-devices N,...]`: for the project's model and
// each device count, every tensor-parallel mode's per-device parameters, activations,
// communication and estimated step time with all devices in one tp group (dp 1, as the papers
// measure), where each grid mode starts to send less than 1D, and the papers' reported speedups.
#pragma once

#include <string>
#include <vector>

#include "backend/project/project.h"
#include "memory/time_model.h"

namespace behemoth {

std::string explainTensorParallel(const Project& project, const DeviceSpec& device, const std::vector<int>& device_counts);

}  // namespace behemoth
