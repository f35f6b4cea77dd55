// Which transformer blocks each pipeline stage holds. Shared by the planner, the engine and the
// Studio so that all three split a model the same way. No LibTorch.
//
// With pp ranks and v model chunks per rank (interleaved schedules) there are pp * v virtual
// stages; virtual stage k lives on pp rank k % pp as that rank's chunk k / pp (Megatron's layout),
// so chunk 0 of rank 0 holds the embedding and chunk v-1 of rank pp-1 holds the head.
#pragma once

#include <string>
#include <vector>

namespace behemoth {

struct BlockRange {
  int first = 0;  // first block index
  int count = 0;  // blocks in the range (>= 1)
  int end() const { return first + count; }
};

// Blocks per virtual stage: `layer_counts` when given (one entry per virtual stage), else
// n_layer / (pp * virtual_stages) each. Throws std::invalid_argument naming the project field
// (parallel.pp_layers, model.n_layer) when the counts do not fit the model.
std::vector<BlockRange> virtualStageBlocks(int n_layer, int pp, int virtual_stages, const std::vector<int>& layer_counts);

// The blocks pp rank `rank` holds, one range per chunk (chunk c = virtual stage c * pp + rank).
std::vector<BlockRange> rankChunks(const std::vector<BlockRange>& virtual_stages, int pp, int rank);

}  // namespace behemoth
