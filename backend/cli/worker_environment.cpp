#include "backend/cli/worker_environment.h"

#include <cstdlib>
#include <string>

namespace behemoth {

std::chrono::milliseconds collectiveTimeout(std::chrono::seconds fallback) {
  if (const char* text = std::getenv("BEHEMOTH_TIMEOUT_S")) {
    return std::chrono::milliseconds(static_cast<long long>(std::stod(text) * 1000));
  }
  return fallback;
}

WorldInfo worldInfoFor(const LaunchedRank& rank, const std::string& device_kind, std::chrono::milliseconds timeout) {
  WorldInfo info;
  info.rank = rank.rank;
  info.world_size = rank.world_size;
  info.local_rank = rank.local_rank;
  info.local_world_size = rank.local_world_size;
  info.master_addr = rank.master_addr;
  info.master_port = rank.master_port;
  info.timeout = timeout;
  info.device_kind = device_kind;
  return info;
}

}  // namespace behemoth
