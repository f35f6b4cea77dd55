// Turning what a launcher (ours, mpirun, srun) told a process into the WorldInfo the engine uses.
#pragma once

#include <chrono>

#include "backend/launch/launched_rank.h"
#include "backend/launch/rank_discovery.h"
#include "parallel/world.h"

namespace behemoth {

// Collective timeout for every rank: BEHEMOTH_TIMEOUT_S when set, else `fallback`.
std::chrono::milliseconds collectiveTimeout(std::chrono::seconds fallback);

WorldInfo worldInfoFor(const LaunchedRank& rank, const std::string& device_kind, std::chrono::milliseconds timeout);

}  // namespace behemoth
