// The collectives one training step issues per rank, for any layout: which axis, which
// collective, how large, how often, over which link, and what it may overlap with. Bus bytes come
// from parallel/comm_counter's functions, the ones the engine counts its comm_bytes with, so a
// prediction and a measurement agree by construction where the engine runs the layout.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "memory/model_description.h"
#include "memory/time_model.h"
#include "memory/training_layout.h"
#include "parallel/plan.h"

namespace behemoth {

// Which backend carries the collectives, where that changes the bytes: NCCL all-reduces bf16 and
// fp16 natively; on gloo (CPU devices) a 2-byte all-reduce is an all_to_all plus an all_gather of
// the tensor zero-padded to a multiple of the group (parallel/group.h), so it also carries the
// padding when the group does not divide its element count.
enum class CollectiveBackend { nccl, gloo };
// "cpu": gloo; anything else: NCCL.
CollectiveBackend collectiveBackendFor(const std::string& device_kind);

// `order`: axis nesting, outermost first (Plan::order); a group whose ranks span more than
// `per_node` consecutive devices crosses nodes (per_node <= 0: one node).
//
// The data-parallel gradients are described as one flat buffer of the stage's parameters (P, or
// P' under ZeRO). The engine reduces them in buckets; bucket boundaries change nothing unless a
// bucket's element count does not divide by the group where padding applies (ZeRO's buckets, and
// 2-byte all-reduces on gloo): then each such bucket carries up to group-1 more elements.
// ZeRO-3, where memory/chunk_plan.h plans the engine's chunks (chunkPlanApplies), is counted per
// chunk instead: all-gathers per run of stages using a chunk, one reduce-scatter per chunk and
// micro-batch, the gradient norm and the persistent chunk's all-gather per step.
std::vector<CollectiveLoad> stepCollectives(const ModelDescription& model, const TrainingLayout& layout,
                                            const std::array<Axis, kAxisCount>& order, int per_node,
                                            CollectiveBackend backend = CollectiveBackend::nccl);

// Sum of count * bus_bytes: the comm_bytes a rank reports for one step.
std::int64_t stepCommBytes(const std::vector<CollectiveLoad>& loads);

}  // namespace behemoth
