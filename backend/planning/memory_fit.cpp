#include "backend/planning/memory_fit.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "backend/planning/plan_inputs.h"
#include "memory/memory_model.h"

namespace behemoth {
namespace {

std::string gib(std::int64_t bytes) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f GiB", double(bytes) / double(std::int64_t{1} << 30));
  return buffer;
}

}  // namespace

std::int64_t estimatedRankBytes(const Project& project) {
  // Memory only: no device rate is needed, so nothing is measured.
  const MemoryEstimate memory =
      estimateMemory(describeModel(project.model), layoutFromProject(project), defaultAllowance(project.devices.kind));
  std::int64_t largest = 0;
  for (const StageMemory& stage : memory.stages) largest = std::max(largest, stage.deviceBytes() + stage.hostBytes());
  return largest;
}

std::optional<std::int64_t> availableMemoryBytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    std::istringstream fields(line);
    std::string name;
    std::int64_t kib = 0;
    if (fields >> name >> kib && name == "MemAvailable:") return kib * 1024;
  }
  return std::nullopt;
}

void checkFitsThisMachine(const Project& project, int local_ranks, std::int64_t available_bytes) {
  if (project.devices.kind != "cpu") return;
  const std::int64_t per_rank = estimatedRankBytes(project);
  const double needed = double(per_rank) * local_ranks;
  if (needed <= double(available_bytes)) return;
  throw std::invalid_argument(
      "model: the plan needs an estimated " + gib(per_rank) + " per rank x " + std::to_string(local_ranks) +
      " rank(s) on this machine = " + gib(static_cast<std::int64_t>(needed)) + ", but only " + gib(available_bytes) +
      " of memory is available (`behemoth plan` shows the terms); use a smaller model, parallel.zero, more machines, "
      "or --force to run anyway");
}

}  // namespace behemoth
