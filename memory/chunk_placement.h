// Where ZeRO-3 keeps each chunk's shards: the memory tiers and the static placement rule.
//
// A chunk has two parts per rank: its *parameter shard* (working dtype) and its *optimizer shard*
// (fp32 gradient, the fp32 master when it differs from the working values, AdamW's two moments).
// Parameter shards live on the device or in host memory; optimizer shards may also live on disk
// (memory-mapped files). A chunk is gathered (all its dp shards) on the device while a layer uses
// it. The persistent chunk (memory/chunk_layout.h) stays on the device. Torch-free.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace behemoth {

enum class Tier { device = 0, host = 1, disk = 2 };
inline constexpr int kTierCount = 3;
std::string tierName(Tier tier);

struct ChunkPlacement {
  std::vector<Tier> param;  // per chunk: where its parameter shard lives
  std::vector<Tier> optim;  // per chunk: where its optimizer shard lives
};

// parallel.placement "static": of the `chunks` regular chunks, the first round(p * chunks) keep
// their parameter shard on the host; of the optimizer shards, the first round(d * chunks) go to
// disk and the next round(o * chunks) to the host (o + d <= 1); the rest stay on the device. A
// persistent chunk (`persistent_last`: the last entry) stays on the device in both parts. Throws
// std::invalid_argument naming the parallel.* field outside [0, 1] (or o + d above 1).
ChunkPlacement staticPlacement(std::size_t chunks, bool persistent_last, double offload_param_fraction,
                               double offload_optim_fraction, double disk_optim_fraction);

}  // namespace behemoth
