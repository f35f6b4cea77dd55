// How ZeRO-3 packs a rank's parameter tensors into chunks (PatrickStar, arXiv 2108.05818).
//
// Tensors are packed whole, in the order of their first use in a forward pass, into chunks of one
// fixed capacity: a tensor that does not fit in what is left of the current chunk starts the next
// one. Every chunk is sharded over dp, so its capacity is a multiple of dp. Tensors flagged
// `keep_gathered` (the engine flags every 1-D tensor: norm weights and biases, whose gathering
// layer by layer would cost more latency than they save memory) go into one extra *persistent*
// chunk that stays gathered the whole run.
// The engine and the planner build the same layout from the same list, so a plan's chunk count,
// padding and per-tier bytes are what the engine then holds. Torch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace behemoth {

struct ChunkMember {
  std::size_t tensor = 0;     // index into the request's numels
  std::int64_t offset = 0;    // first element inside the chunk
  std::int64_t numel = 0;
};

struct ChunkSpec {
  std::vector<ChunkMember> members;  // in first-use order
  std::int64_t numel = 0;            // elements of its tensors
  std::int64_t capacity = 0;         // elements of the chunk: >= numel, a multiple of dp
  bool persistent = false;           // the small tensors' chunk, gathered all run
  std::int64_t padding() const { return capacity - numel; }
};

struct ChunkLayoutRequest {
  std::vector<std::int64_t> numels;    // elements per tensor, in the model's parameter order
  std::vector<std::size_t> first_use;  // tensor indices in the order a forward first uses them (a permutation)
  int dp = 1;
  std::int64_t chunk_elements = 0;     // > 0: this capacity (rounded up to a multiple of dp); 0: search
  std::vector<bool> keep_gathered;     // per tensor: into the persistent chunk (empty: none)
};

class ChunkLayout {
 public:
  // Throws std::invalid_argument when first_use is not a permutation of the tensors, dp < 1, or
  // chunk_elements is smaller than the largest chunked tensor (naming both sizes).
  explicit ChunkLayout(const ChunkLayoutRequest& request);

  // The regular chunks in use order, then (when any tensor is small) the persistent one.
  const std::vector<ChunkSpec>& chunks() const { return chunks_; }
  std::size_t chunkOf(std::size_t tensor) const { return chunk_of_.at(tensor); }
  // The capacity every regular chunk has.
  std::int64_t chunkElements() const { return chunk_elements_; }
  int dp() const { return dp_; }
  std::int64_t shardElements(std::size_t chunk) const { return chunks_.at(chunk).capacity / dp_; }
  // Elements allocated but holding no tensor, over every chunk.
  std::int64_t paddingElements() const;
  std::int64_t capacityElements() const;
  std::int64_t tensorElements() const;

 private:
  int dp_ = 1;
  std::int64_t chunk_elements_ = 0;
  std::vector<ChunkSpec> chunks_;
  std::vector<std::size_t> chunk_of_;
};

// The chunk capacity (a multiple of dp, at least the largest tensor) that leaves the least padding
// when `numels` are packed in this order; ties go to the smaller capacity. Tries every multiple of
// a granule from the largest tensor up to 4x it (or the total, when smaller), at most ~2000
// candidates, so the planner can call it for every plan it costs.
std::int64_t searchChunkElements(const std::vector<std::int64_t>& numels_in_use_order, int dp);

}  // namespace behemoth
