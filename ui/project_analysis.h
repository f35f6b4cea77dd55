// Everything the design views show about a project, computed in one pure function from its JSON:
// the parsed and resolved project (or the engine's message naming the bad field), the model's
// size, and every device's memory from the engine's memory model. Pure and thread-safe: the
// Studio runs it off the UI thread on every edit (EstimateService).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/project/project.h"
#include "memory/chunk_plan.h"
#include "memory/model_description.h"
#include "memory/time_model.h"
#include "parallel/mesh.h"
#include "parallel/plan_estimate.h"

namespace behemoth::ui {

// An engine message and the project field it names ("parallel.tp"; "parallel" when it names
// the axes together; empty when it names none).
struct FieldIssue {
  std::string field;
  std::string message;
};
// The dotted field a message starts with: "parallel.tp must be >= 1" -> "parallel.tp".
std::string fieldOfMessage(const std::string& message);

// What one device holds, in bytes of device memory, grouped as the memory panel stacks them.
struct DeviceMemory {
  int rank = 0;
  int stage = 0;
  Mesh::Coordinates coordinates{};
  std::int64_t parameters = 0;  // ZeRO-3: with the gathered and the persistent chunks
  std::int64_t gradients = 0;   // gradients + fp32 master gradients
  std::int64_t optimizer = 0;   // optimizer states + fp32 master weights
  std::int64_t activations = 0;
  std::int64_t buffers = 0;     // communication buckets + framework/allocator allowance
  std::int64_t host = 0;        // offloaded to host memory (not counted against capacity)
  std::int64_t disk = 0;        // ZeRO-3 optimizer chunks on disk
  std::int64_t chunks_in_flight = 0;  // ZeRO-3: gathered + persistent chunk bytes (inside parameters)
  std::int64_t total() const { return parameters + gradients + optimizer + activations + buffers; }
};

struct ProjectAnalysis {
  std::optional<Project> project;       // parsed, plan resolved (absent when parsing failed)
  std::optional<FieldIssue> error;      // the first thing that makes the plan impossible
  std::optional<FieldIssue> run_blocker;  // estimable, but this build cannot run it (engine's message)
  std::optional<ModelDescription> model;
  std::int64_t parameter_count = 0;
  FlopsPerToken flops;
  DeviceSpec device;
  std::optional<PlanEstimate> estimate;
  std::vector<DeviceMemory> devices;    // one per rank of the world
  // Activation bytes of the first stage's ranks with the other model.attention (dense <->
  // blockwise), everything else equal: what the memory panel compares the plan's with.
  std::int64_t other_attention_activation_bytes = 0;
  // ZeRO-3 plans: the planner's chunks of one rank (every rank holds the same shard sizes) and
  // the parameter tensors they pack, in first-use order (memory/chunk_plan.h).
  std::optional<ChunkPlan> chunk_plan;
  std::vector<PlannedTensor> planned_tensors;
  double capacity_bytes = 0;            // per device; 0 = unknown

  bool estimated() const { return estimate.has_value(); }
  int devicesOverCapacity() const;
};

// Parses, resolves, checks shapes (the same rules as `behemoth run`), estimates, and for
// ZeRO-3 plans the chunks (planChunks). Never
// throws: problems land in `error` / `run_blocker`. `base_dir` resolves relative paths.
ProjectAnalysis analyzeProject(const nlohmann::json& json, const std::string& base_dir);

// The per-device memory of an estimate: every rank holds what its pipeline stage holds.
std::vector<DeviceMemory> deviceMemory(const PlanEstimate& estimate, const Plan& resolved_plan);

}  // namespace behemoth::ui
