#include "backend/planning/plan_device.h"

#include <algorithm>
#include <thread>

#include "backend/planning/cpu_rate.h"
#include "backend/planning/plan_inputs.h"

namespace behemoth {

DeviceSpec planningDevice(const Project& project, const CpuRateChoice& choice) {
  DeviceSpec device = deviceFromProject(project);
  if (device.kind == "cpu") {
    device.compute_efficiency = kCpuModelEfficiency;
    if (choice.cpu_flops > 0) {
      device.peak_flops = choice.cpu_flops;
    } else {
      // Workers of a multi-rank CPU job compute on one thread each (backend/train/run_rank.cpp);
      // a single process uses every core. Ranks beyond the cores share them.
      const int ranks_here = device.per_node > 0 ? std::min(device.per_node, project.devices.count) : project.devices.count;
      const int threads = ranks_here > 1 ? 1 : 0;
      const c10::ScalarType dtype = project.precision == Precision::bf16 ? c10::kBFloat16 : c10::kFloat;
      device.peak_flops = measureCpuMatmulFlops(threads, 512, 0.2, dtype);
      const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
      if (ranks_here > cores) device.peak_flops *= double(cores) / ranks_here;
    }
  }
  if (choice.efficiency > 0) device.compute_efficiency = choice.efficiency;
  return device;
}

}  // namespace behemoth
