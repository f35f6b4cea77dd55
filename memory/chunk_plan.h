// The planner's view of a ZeRO-3 plan's chunks: which parameter tensors a rank holds (in the order
// a forward first uses them), how they pack into chunks (memory/chunk_layout.h), where each
// chunk's shards live (memory/chunk_placement.h), and what that costs per tier. What the Studio's
// chunk view and memory panel draw for a plan, and what the engine's measured figures are checked
// against (tests/memory/chunk_plan_test.cpp). Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "memory/chunk_placement.h"
#include "memory/model_description.h"
#include "memory/training_layout.h"

namespace behemoth {

struct PlannedTensor {
  std::string name;        // the engine's parameter name ("blocks.0.attn.qkv.weight", ...)
  std::int64_t numel = 0;  // elements on one tp rank (its shard of a tp-sharded tensor)
  bool keep_gathered = false;  // a 1-D tensor (norm weight, bias): the persistent chunk's
};

// The parameter tensors of one rank of a layout's tp group, in first-use order: embedding(s),
// block 0 .. n-1 (each in its registration order), final norm, untied head. Names and element
// counts equal the engine's (tests/memory/chunk_plan_test.cpp builds both).
std::vector<PlannedTensor> plannedTensors(const ModelDescription& model, int tp);

struct PlannedChunk {
  std::vector<std::string> tensors;
  std::int64_t numel = 0;
  std::int64_t capacity = 0;
  bool persistent = false;
  Tier param_tier = Tier::device;
  Tier optim_tier = Tier::device;
};

struct ChunkPlan {
  std::int64_t chunk_elements = 0;
  std::vector<PlannedChunk> chunks;
  // Bytes of one rank's chunk state per tier (index by Tier) with no chunk gathered, the most the
  // device tier holds while chunks are gathered, and the bytes copied between tiers per step.
  std::int64_t tier_bytes[kTierCount] = {0, 0, 0};
  std::int64_t device_peak_bytes = 0;
  std::int64_t moved_bytes_per_step = 0;
  // Chunk shards per tier: each chunk counts once for its parameter shard and once for its
  // optimizer shard (what the step events' rank_*_chunks count).
  int chunks_on[kTierCount] = {0, 0, 0};
};

// The chunk plan of a ZeRO-3 layout (layout.zero == 3); throws std::invalid_argument otherwise.
ChunkPlan planChunks(const ModelDescription& model, const TrainingLayout& layout);

}  // namespace behemoth
