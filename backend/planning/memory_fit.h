// Does a local CPU run fit this machine? The memory model's per-rank estimate, times the ranks
// this machine will run, against the memory the kernel says is available -- checked before any
// worker starts, so a 160B model on a laptop is refused at once instead of grinding in swap.
#pragma once

#include <cstdint>
#include <optional>

#include "backend/project/project.h"

namespace behemoth {

// Bytes one rank of the project's resolved plan holds at its peak (device and host terms of its
// largest stage, the CPU allowance included), from the memory model alone.
std::int64_t estimatedRankBytes(const Project& project);

// MemAvailable of /proc/meminfo in bytes; nullopt where it cannot be read.
std::optional<std::int64_t> availableMemoryBytes();

// For devices.kind "cpu": throws std::invalid_argument ("model: ...") with the estimate, what is
// available and the fixes when local_ranks x estimatedRankBytes() exceeds `available_bytes`.
void checkFitsThisMachine(const Project& project, int local_ranks, std::int64_t available_bytes);

}  // namespace behemoth
