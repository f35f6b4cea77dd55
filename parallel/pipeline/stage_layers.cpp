#include "parallel/pipeline/stage_layers.h"

#include <numeric>
#include <stdexcept>

namespace behemoth {
namespace {

std::string str(long long value) { return std::to_string(value); }

}  // namespace

std::vector<BlockRange> virtualStageBlocks(int n_layer, int pp, int virtual_stages, const std::vector<int>& layer_counts) {
  const long long stages = static_cast<long long>(pp) * virtual_stages;
  std::vector<int> counts;
  if (layer_counts.empty()) {
    if (n_layer % stages != 0) {
      throw std::invalid_argument("model.n_layer: " + str(n_layer) + " blocks do not divide evenly over parallel.pp (" +
                                  str(pp) + ") x parallel.pp_virtual (" + str(virtual_stages) +
                                  ") stages; give parallel.pp_layers to split them by hand");
    }
    counts.assign(static_cast<std::size_t>(stages), static_cast<int>(n_layer / stages));
  } else {
    if (static_cast<long long>(layer_counts.size()) != stages) {
      throw std::invalid_argument("parallel.pp_layers: " + str(static_cast<long long>(layer_counts.size())) +
                                  " entries for " + str(stages) + " stages (parallel.pp x parallel.pp_virtual)");
    }
    for (std::size_t k = 0; k < layer_counts.size(); ++k) {
      if (layer_counts[k] < 1) {
        throw std::invalid_argument("parallel.pp_layers: stage " + str(static_cast<long long>(k)) +
                                    " must hold at least one block, got " + str(layer_counts[k]));
      }
    }
    const long long sum = std::accumulate(layer_counts.begin(), layer_counts.end(), 0LL);
    if (sum != n_layer) {
      throw std::invalid_argument("parallel.pp_layers: the counts sum to " + str(sum) + " blocks but model.n_layer is " +
                                  str(n_layer));
    }
    counts = layer_counts;
  }
  std::vector<BlockRange> ranges;
  int first = 0;
  for (const int count : counts) {
    ranges.push_back({first, count});
    first += count;
  }
  return ranges;
}

std::vector<BlockRange> rankChunks(const std::vector<BlockRange>& virtual_stages, int pp, int rank) {
  std::vector<BlockRange> chunks;
  for (std::size_t k = static_cast<std::size_t>(rank); k < virtual_stages.size(); k += static_cast<std::size_t>(pp)) {
    chunks.push_back(virtual_stages[k]);
  }
  return chunks;
}

}  // namespace behemoth
