// The parallel plan: how one job lays its ranks out and what every strategy is asked to do.
// The project file's `parallel` section fills it; the Studio, the planner and the engine read it.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace behemoth {

// The named axes of the rank grid. Order here is only an identifier; nesting lives in Plan::order.
enum class Axis { dp = 0, pp = 1, tp = 2, sp = 3, ep = 4 };
inline constexpr int kAxisCount = 5;
inline constexpr std::array<Axis, kAxisCount> kAllAxes = {Axis::dp, Axis::pp, Axis::tp, Axis::sp, Axis::ep};

std::string_view axisName(Axis axis);
// Throws std::invalid_argument naming the bad text.
Axis axisFromName(std::string_view name);

struct Plan {
  // Sizes per axis. dp = -1 means "whatever the other axes leave" until resolve() is called.
  int dp = -1;
  int pp = 1;
  int tp = 1;
  int sp = 1;
  int ep = 1;
  // Nesting of the axes from outermost (slowest-varying rank coordinate) to innermost (adjacent
  // ranks). tp innermost keeps the chattiest group on the closest devices.
  std::array<Axis, kAxisCount> order = {Axis::pp, Axis::dp, Axis::ep, Axis::sp, Axis::tp};

  // Megatron sequence parallelism inside the tp group: norms, dropout and residual adds run on
  // 1/tp of the sequence; all-gather / reduce-scatter replace tp's all-reduces. No-op at tp == 1.
  bool sequence_parallel = false;
  // How the tp ranks split each layer (docs/tensor-parallel-grid.md): "1d" (Megatron: one axis),
  // "2d" (Optimus: a q x q grid, tp = q^2), "2.5d" (Tesseract: tp_depth stacked q x q grids,
  // tp = q^2 * tp_depth) or "3d" (a q x q x q cube, tp = q^3). tp_depth is read by 2.5d only.
  std::string tp_mode = "1d";
  int tp_depth = 1;
  // How the sp axis splits attention (docs/long-context.md): "ulysses" turns sequence shards into
  // head shards with an all-to-all around attention; "ring" keeps the queries and passes key/value
  // blocks around the sp ring, each rank holding two zigzag chunks of the sequence.
  std::string sp_mode = "ulysses";
  int zero = 0;            // ZeRO stage over dp (0 = plain data parallel).
  double bucket_mb = 25.0; // gradient bucket size for data-parallel reduction
  bool overlap = true;     // launch bucket reductions during backward
  bool offload_optimizer = false;  // ZeRO: partition's optimizer states and fp32 masters in host memory
  // The dtype gradients travel in over dp: "auto" (the working dtype; fp16 under fp16), "fp32",
  // "bf16" or "fp16". fp32 keeps bf16 training's sums exact at twice the bytes; bf16/fp16 halve them.
  std::string reduce_dtype = "auto";
  // Pipeline (docs/pipeline.md): the schedule ("gpipe", "1f1b", "interleaved", "zero_bubble"), the
  // model chunks each pp rank holds (interleaved only; > 1), and blocks per stage by hand (empty:
  // n_layer / (pp * pp_virtual) each). With pp_virtual v, entry k is virtual stage k's count:
  // virtual stage k lives on pp rank k % pp as its chunk k / pp.
  std::string pp_schedule = "1f1b";
  int pp_virtual = 1;
  std::vector<int> pp_layers;
  // ZeRO-3 chunks and memory tiers (docs/zero3.md). Parameters, gradients and optimizer states are
  // packed into chunks of chunk_mb MiB of working-dtype parameters (0: the size with the least
  // padding, found by a search) and sharded over dp. Each rank's shards live on the device (at most
  // device_budget_mb; 0: no budget), in host memory, or (optimizer chunks only) in memory-mapped
  // files under offload_dir. placement "static" puts the given fractions of the chunks off the
  // device; "auto" traces the first step's non-model memory and then evicts / prefetches (prefetch
  // chunks ahead) to stay within the budget.
  double chunk_mb = 0.0;
  double device_budget_mb = 0.0;
  std::string placement = "static";
  double offload_param_fraction = 0.0;
  double offload_optim_fraction = 0.0;
  double disk_optim_fraction = 0.0;
  std::string offload_dir;
  int prefetch = 2;

  int size(Axis axis) const;
  void setSize(Axis axis, int value);
  // Product of every axis size (dp must be resolved).
  int worldSize() const;

  // Fills dp = -1 from the world size and checks that the axes multiply to it. Throws
  // std::invalid_argument with a message naming the `parallel.*` field that is wrong.
  void resolve(int world_size);
};

}  // namespace behemoth
