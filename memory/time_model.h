// The time model: one optimizer step's time from FLOPs over an achievable device rate, the
// pipeline bubble of the schedule, the collectives of every axis over the links they cross (with
// the overlap the strategy allows), the optimizer update and host transfers of offloaded state.
// Collectives come in as CollectiveLoad lists built by parallel/comm_model (which owns the
// bus-byte formulas the engine counts with). See docs/planning.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "memory/model_description.h"
#include "memory/training_layout.h"

namespace behemoth {

struct DeviceSpec {
  std::string name;
  std::string kind = "cuda";           // "cuda" or "cpu"
  double peak_flops = 0;               // dense peak for the training precision, FLOP/s
  double compute_efficiency = 0.5;     // achievable fraction of peak on a transformer step's FLOPs
  double memory_bytes = 0;             // per device
  double memory_bandwidth = 0;         // bytes/s (the optimizer update is bound by it)
  double intra_node_bandwidth = 0;     // bus bytes/s per rank inside a node (NVLink)
  double inter_node_bandwidth = 0;     // bus bytes/s per rank across nodes (InfiniBand)
  double latency_s = 10e-6;            // fixed cost per collective call
  double host_link_bandwidth = 0;      // bytes/s each way between device and host (PCIe)
  double host_update_rate = 1e9;       // parameters/s the host's optimizer updates (offload)
  int per_node = 8;                    // devices per node; 0 = all on one node
  bool assumed = false;                // true when the name was unknown and defaults were used
};

// Published figures for known devices (dense, no sparsity): "H100" (SXM: 989 TFLOP/s bf16/fp16,
// 67 fp32; NVLink 4; 400 Gb/s InfiniBand per GPU), "H200", "A100" (SXM 80 GB: 312 bf16, 19.5
// fp32; NVLink 3; 200 Gb/s per GPU), "cpu" (set peak_flops from a measurement). Unknown cuda names
// get the H100 figures with assumed = true. Bandwidths are effective bus bandwidths (about 80 % of
// the link's per-direction rate, what nccl-tests reach).
DeviceSpec deviceSpec(const std::string& kind, const std::string& name, NumericFormat precision);

enum class CollectiveKind { all_reduce, reduce_scatter, all_gather, all_to_all, broadcast, send_recv };
std::string collectiveKindName(CollectiveKind kind);

// What a collective can hide behind.
enum class OverlapWindow { none, last_backward, compute };

struct CollectiveLoad {
  std::string axis;            // "dp", "tp", "pp", "sp", "ep"
  std::string what;            // "gradient all-reduce", ...
  CollectiveKind kind = CollectiveKind::all_reduce;
  std::int64_t payload_bytes = 0;  // the size the bus-byte formula takes
  int group_size = 1;
  std::int64_t count = 0;      // calls per step per rank
  std::int64_t bus_bytes = 0;  // per call, per rank (parallel/comm_counter's formulas)
  bool intra_node = true;
  OverlapWindow window = OverlapWindow::none;
};

struct AxisTime {
  std::string axis;
  std::int64_t bytes = 0;  // bus bytes per step per rank
  double total_s = 0;      // if nothing overlapped
  double exposed_s = 0;    // what the step waits for
};

struct TimeEstimate {
  double compute_s = 0;     // forward + backward (+ recomputation) FLOPs at the achievable rate
  double bubble_s = 0;      // pipeline fill and drain
  double optimizer_s = 0;   // the update (memory-bound on the device; host rate for offloaded states)
  double offload_s = 0;     // host <-> device transfers of offloaded states
  double comm_exposed_s = 0;
  std::vector<AxisTime> comm;  // per axis
  std::int64_t comm_bytes = 0; // bus bytes per step per rank, every axis
  double step_s = 0;
  double tokens_per_s = 0;            // whole job
  double tokens_per_s_per_device = 0;
  double model_flops_per_token = 0;   // 6N-style (no recomputation)
  double mfu = 0;                     // model FLOPs / (step time * devices * peak)
  double hfu = 0;                     // hardware FLOPs (with recomputation) likewise
};

// Fraction of the compute time the pipeline idles: (p-1)/m for GPipe and 1F1B, (p-1)/(v*m)
// interleaved (Narayanan et al. 2021), (p-1)/(3m) zero-bubble ZB-H1 (Qi et al. 2023, about a third
// of 1F1B's bubble at the same memory).
double bubbleFraction(const TrainingLayout& layout);

TimeEstimate estimateTime(const ModelDescription& model, const TrainingLayout& layout, const DeviceSpec& device,
                          const std::vector<CollectiveLoad>& collectives);

}  // namespace behemoth
