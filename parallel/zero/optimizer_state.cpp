#include "parallel/zero/optimizer_state.h"

#include <ATen/ATen.h>

#include <stdexcept>
#include <string>

namespace behemoth {
namespace {

[[noreturn]] void reject(const std::string& message) {
  throw std::invalid_argument("optimizer state shards: " + message);
}

}  // namespace

FullOptimizerState fullStateFromShards(const std::vector<ShardedOptimizerState>& shards) {
  if (shards.empty()) reject("none given");
  const ShardedOptimizerState& first = shards.front();
  if (static_cast<int>(shards.size()) != first.dp) {
    reject(std::to_string(shards.size()) + " given, but they were written at dp " + std::to_string(first.dp));
  }
  std::vector<bool> seen(first.dp, false);
  for (const auto& shard : shards) {
    if (shard.dp != first.dp || shard.step != first.step || shard.shapes != first.shapes) {
      reject("rank " + std::to_string(shard.rank) + " was written by a different run (dp, step or shapes differ)");
    }
    if (shard.rank < 0 || shard.rank >= first.dp || seen[shard.rank]) {
      reject("rank " + std::to_string(shard.rank) + " is missing or repeated");
    }
    seen[shard.rank] = true;
  }

  // Flat fp32 buffers per parameter; every element is written by exactly one piece of one shard.
  std::vector<at::Tensor> master;
  std::vector<at::Tensor> exp_avg;
  std::vector<at::Tensor> exp_avg_sq;
  std::vector<std::int64_t> covered;
  for (const auto& shape : first.shapes) {
    const std::int64_t numel = at::empty(shape, at::kFloat).numel();
    master.push_back(at::empty({numel}, at::kFloat));
    exp_avg.push_back(at::empty({numel}, at::kFloat));
    exp_avg_sq.push_back(at::empty({numel}, at::kFloat));
    covered.push_back(0);
  }
  for (const auto& shard : shards) {
    const at::Tensor rows = shard.pieces.to(at::kLong).contiguous();
    for (std::int64_t i = 0; i < rows.size(0); ++i) {
      const auto param = static_cast<std::size_t>(rows[i][0].item<std::int64_t>());
      const std::int64_t param_offset = rows[i][1].item<std::int64_t>();
      const std::int64_t partition_offset = rows[i][2].item<std::int64_t>();
      const std::int64_t numel = rows[i][3].item<std::int64_t>();
      if (param >= master.size() || param_offset + numel > master[param].numel() ||
          partition_offset + numel > shard.master.numel()) {
        reject("rank " + std::to_string(shard.rank) + " has a piece outside its parameter or partition");
      }
      master[param].narrow(0, param_offset, numel).copy_(shard.master.narrow(0, partition_offset, numel));
      exp_avg[param].narrow(0, param_offset, numel).copy_(shard.exp_avg.narrow(0, partition_offset, numel));
      exp_avg_sq[param].narrow(0, param_offset, numel).copy_(shard.exp_avg_sq.narrow(0, partition_offset, numel));
      covered[param] += numel;
    }
  }

  FullOptimizerState full;
  full.step = first.step;
  for (std::size_t k = 0; k < master.size(); ++k) {
    if (covered[k] != master[k].numel()) {
      reject("parameter " + std::to_string(k) + " is covered by " + std::to_string(covered[k]) + " of its " +
             std::to_string(master[k].numel()) + " elements");
    }
    const auto& shape = first.shapes[k];
    full.parameters.push_back({master[k].view(shape), exp_avg[k].view(shape), exp_avg_sq[k].view(shape)});
  }
  return full;
}

}  // namespace behemoth
