// The memory model: what every device holds for a model trained under a layout, term by term,
// device bytes and host (CPU-offloaded) bytes apart, per pipeline stage (ranks of one stage hold
// the same; stage 0 holds the embedding, the last stage the head). See docs/planning.md.
//
// Model states per parameter (ZeRO, arXiv 1910.02054, with K = optimizer bytes, AdamW K = 8):
//   fp32:       parameter 4, gradient 4, optimizer K                                  -> 16
//   bf16/fp16:  parameter 2, gradient 2, fp32 master 4, optimizer K, and in the engine's layout
//               an fp32 gradient copy 4 without ZeRO                                  -> 20
// ZeRO stage >= 1 shards optimizer states and masters over dp; >= 2 also the gradients; 3 also
// the parameters (TrainingLayout::state_layout lists the engine's exact variants). With ZeRO the
// flat buffers are padded to a multiple of dp (P' = ceil(P / dp) * dp; the shard is P' / dp), or
// to whole chunks per rank when chunk_elements > 0: the padding is what chunking costs.
//
// ZeRO-3 (one stage, 1D tp) is the engine's chunk plan (memory/chunk_plan.h): each term is the
// chunks' shards on the tier their placement gives them (parameters on device or host; the fp32
// gradient, moments and bf16 master on the optimizer shard's tier, possibly disk), plus the
// chunks in flight ("gathered chunks") and the persistent chunk, both on the device.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "memory/model_description.h"
#include "memory/training_layout.h"

namespace behemoth {

// Term names (short: the search builds millions of them).
inline constexpr const char* kTermParameters = "parameters";
inline constexpr const char* kTermGradients = "gradients";
inline constexpr const char* kTermOptimizer = "optimizer";
inline constexpr const char* kTermMasterWeights = "master weights";
inline constexpr const char* kTermMasterGrads = "master grads";
inline constexpr const char* kTermActivations = "activations";
inline constexpr const char* kTermCommBuffers = "comm buffers";
inline constexpr const char* kTermFramework = "framework";
// ZeRO-3 only (memory/chunk_plan.h): the most regular chunks one stage holds gathered, and the
// persistent chunk of the 1-D tensors, gathered all run.
inline constexpr const char* kTermGatheredChunks = "gathered chunks";
inline constexpr const char* kTermPersistentChunk = "persistent chunk";

struct MemoryTerm {
  std::string name;
  std::int64_t device_bytes = 0;
  std::int64_t host_bytes = 0;
  std::int64_t disk_bytes = 0;  // ZeRO-3 optimizer chunks in memory-mapped files
};

// What the framework and the allocator take beyond the tensors counted above: a fixed part
// (CUDA context, library workspaces), a part per communicator (NCCL buffers) and a fraction of
// the counted device bytes (allocator fragmentation).
struct MemoryAllowance {
  std::int64_t fixed_bytes = 0;
  std::int64_t per_communicator_bytes = 0;
  double fragmentation = 0.0;
};
// Documented defaults: "cuda" 0.5 GiB context + 0.5 GiB per communicator + 5 %; "cpu" 192 MiB
// (a LibTorch 1.13 CPU process with gloo, measured).
MemoryAllowance defaultAllowance(const std::string& device_kind);

struct StageMemory {
  int stage = 0;
  int first_layer = 0;
  int layers = 0;
  bool holds_embedding = false;
  bool holds_head = false;
  std::int64_t parameters = 0;         // elements this rank's tp/pp/ep shard holds before ZeRO
  double in_flight_micro_batches = 1;  // micro-batches of activations the schedule keeps
  std::vector<MemoryTerm> terms;

  std::int64_t deviceBytes() const;
  std::int64_t hostBytes() const;
  std::int64_t diskBytes() const;
  // Parameters, gradients, optimizer states, masters (device + host + disk), and under ZeRO-3 the
  // persistent chunk gathered: the engine's model_state_bytes.
  std::int64_t modelStateBytes() const;
  // Throws std::out_of_range naming the term.
  const MemoryTerm& term(const std::string& name) const;
};

struct MemoryEstimate {
  std::vector<StageMemory> stages;  // one per pipeline stage
  int peakStage() const;            // the stage with the most device bytes
  std::int64_t peakDeviceBytes() const { return stages.at(peakStage()).deviceBytes(); }
  std::int64_t peakHostBytes() const;  // per rank
  std::int64_t peakDiskBytes() const;  // per rank
};

// Model-state bytes of a rank whose stage has `parameters` elements (before the host split).
struct ModelStateBytes {
  std::int64_t parameters = 0;
  std::int64_t gradients = 0;
  std::int64_t optimizer = 0;
  std::int64_t master_weights = 0;
  std::int64_t master_grads = 0;
  std::int64_t total() const { return parameters + gradients + optimizer + master_weights + master_grads; }
};
ModelStateBytes modelStateBytes(const TrainingLayout& layout, std::int64_t parameters);
// P' : the stage's parameters padded for ZeRO sharding (P itself without ZeRO).
std::int64_t paddedParameters(const TrainingLayout& layout, std::int64_t parameters);

// Elements of the parameters each pipeline stage's rank holds (its tp/ep shard), before ZeRO.
std::vector<std::int64_t> stageParameterCounts(const ModelDescription& model, const TrainingLayout& layout);
// First layer and layer count of every stage: layers split evenly, the remainder to the last stages
// (stage 0 also holds the embedding).
std::vector<std::pair<int, int>> stageLayers(int layers, int stages);
// Micro-batches of activations a stage keeps in flight under the layout's schedule.
double inFlightMicroBatches(const TrainingLayout& layout, int stage);

// Throws std::invalid_argument for an invalid model or layout (naming the field).
MemoryEstimate estimateMemory(const ModelDescription& model, const TrainingLayout& layout,
                              const MemoryAllowance& allowance = {});

}  // namespace behemoth
