#include "memory/chunk_placement.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace behemoth {
namespace {

void requireFraction(const char* field, double value) {
  if (!(value >= 0.0 && value <= 1.0)) {
    std::ostringstream message;
    message << "parallel." << field << ": must be in [0, 1], got " << value;
    throw std::invalid_argument(message.str());
  }
}

std::size_t share(double fraction, std::size_t chunks) {
  return static_cast<std::size_t>(std::llround(fraction * static_cast<double>(chunks)));
}

}  // namespace

std::string tierName(Tier tier) {
  switch (tier) {
    case Tier::device: return "device";
    case Tier::host: return "host";
    case Tier::disk: return "disk";
  }
  return "unknown";
}

ChunkPlacement staticPlacement(std::size_t chunks, bool persistent_last, double offload_param_fraction,
                               double offload_optim_fraction, double disk_optim_fraction) {
  requireFraction("offload_param_fraction", offload_param_fraction);
  requireFraction("offload_optim_fraction", offload_optim_fraction);
  requireFraction("disk_optim_fraction", disk_optim_fraction);
  if (offload_optim_fraction + disk_optim_fraction > 1.0 + 1e-12) {
    std::ostringstream message;
    message << "parallel.disk_optim_fraction: " << disk_optim_fraction << " on disk plus offload_optim_fraction "
            << offload_optim_fraction << " on the host exceed the whole optimizer (1)";
    throw std::invalid_argument(message.str());
  }
  const std::size_t regular = persistent_last && chunks > 0 ? chunks - 1 : chunks;
  ChunkPlacement placement;
  placement.param.assign(chunks, Tier::device);
  placement.optim.assign(chunks, Tier::device);
  const std::size_t host_params = share(offload_param_fraction, regular);
  const std::size_t disk_optim = share(disk_optim_fraction, regular);
  const std::size_t host_optim = std::min(regular - disk_optim, share(offload_optim_fraction, regular));
  for (std::size_t c = 0; c < host_params; ++c) placement.param[c] = Tier::host;
  for (std::size_t c = 0; c < disk_optim; ++c) placement.optim[c] = Tier::disk;
  for (std::size_t c = disk_optim; c < disk_optim + host_optim; ++c) placement.optim[c] = Tier::host;
  return placement;
}

}  // namespace behemoth
