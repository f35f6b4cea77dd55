// The planner's view of a ZeRO-3 plan's chunks: which parameter tensors a rank holds (in the order
// a forward first uses them), how they pack into chunks (memory/chunk_layout.h), where each
// chunk's shards live (memory/chunk_placement.h), and what that costs per tier. What the Studio's
// chunk view and memory panel draw for a plan, and what the engine's measured figures are checked
// against (tests/memory/chunk_plan_test.cpp). Torch-free.
#pragma once

#include <cstddef>
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
  // The optimizer shard keeps an fp32 master of its own (bf16, auto placement, or parameter and
  // optimizer shards on different tiers); otherwise the working shard is the master.
  bool separate_master = false;
  // All-gathers per micro-batch: one per forward run of consecutive stages (embed, block 0 ..
  // L-1, head) that use it, plus one in backward unless the head uses it (it stays gathered from
  // the head's forward into backward); 0 for the persistent chunk.
  int gathers = 0;
  std::int64_t padding() const { return capacity - numel; }
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
  // The held model states over every tier (parameter + optimizer shards, and the persistent
  // chunk gathered: the engine's model_state_bytes at a step's end), the persistent chunk
  // gathered alone, and the most
  // regular chunks one stage holds gathered at once (in backward a chunk stays gathered from the
  // last stage using it down to the first: a tied embedding's chunk all through backward).
  std::int64_t model_state_bytes = 0;
  std::int64_t persistent_gathered_bytes = 0;
  int max_gathered_chunks = 0;
  // The first stage of the use sequence that holds the most regular chunks gathered ("block 0",
  // "block 0 (backward)"), and their bytes: the least a device budget must hold besides the
  // persistent chunk.
  std::string widest_stage;
  std::int64_t widest_stage_gathered_bytes = 0;
  // Bytes per shard element: the working parameter, and the optimizer shard without a separate
  // master (fp32 gradient and moments; + 4 where PlannedChunk::separate_master).
  int dp = 1;
  int param_bytes_per_element = 4;
  int optim_bytes_per_element = 12;

  // One rank's bytes of chunk c's parameter shard and optimizer shard.
  std::int64_t paramShardBytes(std::size_t chunk) const;
  std::int64_t optimShardBytes(std::size_t chunk) const;
  std::int64_t paddingElements() const;
  std::int64_t capacityElements() const;
  int regularChunks() const;
};

// The engine's stages of one micro-batch in order: forward "embed", "block 0", ..., "head", then
// backward "head", "block L-1", ..., "embed"; with the tensors (indices into plannedTensors) each
// uses.
struct PlannedStage {
  std::string name;
  bool backward = false;
  std::vector<std::size_t> tensors;
};
std::vector<PlannedStage> useSequence(const ModelDescription& model, const std::vector<PlannedTensor>& tensors);

// Whether planChunks describes what the engine holds for this model and layout: ZeRO-3, one
// pipeline stage, 1D tensor parallelism the model's heads and width split over, and a model the
// zoo builds (no experts). Elsewhere the memory and comm models keep their flat ZeRO-3 formulas.
bool chunkPlanApplies(const ModelDescription& model, const TrainingLayout& layout);

// The chunk plan of a ZeRO-3 layout (layout.zero == 3); throws std::invalid_argument otherwise.
// Placement "static" is staticPlacement's; "auto" is a prediction (chunk_plan.cpp: the parameter
// shards that fit under device_budget_bytes beside everything else, with one micro-batch's
// activations standing in for the traced non-model memory).
ChunkPlan planChunks(const ModelDescription& model, const TrainingLayout& layout);

}  // namespace behemoth
