// Everything about HOW a model is trained that changes its memory and time: axis sizes, ZeRO,
// precision, tensor/sequence/pipeline modes, micro-batching, recomputation, offload. A plain
// struct so memory/ stays independent of parallel/ (parallel/plan_estimate converts a Plan).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace behemoth {

enum class NumericFormat { fp32, bf16, fp16 };
enum class TensorMode { one_d, two_d, two_and_half_d, three_d };
enum class ContextMode { ulysses, ring };  // how the sp axis splits attention
enum class PipelineSchedule { gpipe, one_f_one_b, interleaved, zero_bubble };
enum class Recompute { none, selective, full };
// Which bytes the optimizer keeps per parameter (docs/planning.md):
//   behemoth:   what this engine holds (docs/data-parallel.md, docs/zero.md): mixed precision keeps
//               an fp32 gradient per master without ZeRO (20 bytes), none under ZeRO-1, an fp32
//               gradient shard instead of 16-bit gradients under ZeRO-2/3; fp32 with an offloaded
//               optimizer keeps a separate fp32 master shard on the host.
//   zero_paper: the ZeRO paper's accounting (2 + 2 + K bytes, K = 12 for mixed-precision Adam;
//               16-bit gradients sharded under stage 2).
// Both reduce ZeRO-1 gradients with a reduce-scatter (full gradients kept, own shard reduced).
enum class StateLayout { behemoth, zero_paper };
// ZeRO-3 chunk placement (parallel.placement): fixed fractions of the chunks off the device, or
// eviction and prefetch under the device budget from a traced first step (memory/chunk_plan.h).
enum class ChunkPolicy { static_fractions, automatic };

std::string numericFormatName(NumericFormat format);
std::string tensorModeName(TensorMode mode);
std::string contextModeName(ContextMode mode);
std::string pipelineScheduleName(PipelineSchedule schedule);
std::string recomputeName(Recompute recompute);
std::string chunkPolicyName(ChunkPolicy policy);  // "static", "auto"
// Each throws std::invalid_argument listing the accepted names.
NumericFormat numericFormatFromName(const std::string& name);
TensorMode tensorModeFromName(const std::string& name);
ContextMode contextModeFromName(const std::string& name);
PipelineSchedule pipelineScheduleFromName(const std::string& name);
Recompute recomputeFromName(const std::string& name);
ChunkPolicy chunkPolicyFromName(const std::string& name);

struct TrainingLayout {
  // Axis sizes; their product is the world size.
  int dp = 1;
  int pp = 1;
  int tp = 1;
  int sp = 1;
  int ep = 1;
  int zero = 0;  // ZeRO stage over dp

  NumericFormat precision = NumericFormat::fp32;
  StateLayout state_layout = StateLayout::behemoth;
  bool clip_gradients = true;     // ZeRO: one 8-byte all-reduce of the squared gradient norm per step
  int optimizer_state_bytes = 8;  // per parameter: AdamW's two fp32 moments

  TensorMode tensor_mode = TensorMode::one_d;
  int tensor_depth = 1;           // 2.5D: d, with tp = q*q*d
  bool sequence_parallel = false; // Megatron-SP: norms/dropout sharded over the tp group
  ContextMode context_mode = ContextMode::ulysses;
  bool fused_attention = false;   // flash-style attention: no s x s scores kept for backward
  bool fused_gated_mlp = false;   // the fused SwiGLU (model.kernels: fused, on the CPU): keeps gate,
                                  // up and their product, not silu(gate) as well

  PipelineSchedule schedule = PipelineSchedule::one_f_one_b;
  int virtual_stages = 1;         // interleaved: model chunks per pipeline rank

  int micro_batch_size = 1;       // sequences per micro-batch per data-parallel rank
  int micro_batches = 1;          // micro-batches per optimizer step per data-parallel rank
  Recompute recompute = Recompute::none;

  double optimizer_offload = 0.0; // fraction of optimizer states + masters held in host memory
                                  // (ZeRO-3: parallel.offload_optim_fraction of the chunks)
  double parameter_offload = 0.0; // fraction of parameters held in host memory (ZeRO-3 chunks:
                                  // parallel.offload_param_fraction)
  std::int64_t chunk_elements = 0;  // ZeRO chunk size in elements; 0 = one flat shard per rank
                                    // (ZeRO-3: the size with the least padding)
  // ZeRO-3 tiers (docs/zero3.md): the optimizer chunks on disk, the device tier's budget per rank
  // (0: none), the placement policy and auto's prefetch depth in chunks.
  double disk_optim_fraction = 0.0;
  std::int64_t device_budget_bytes = 0;
  ChunkPolicy placement = ChunkPolicy::static_fractions;
  int prefetch = 2;

  double bucket_mb = 25.0;        // gradient reduction bucket
  // The dtype gradients are reduced in over dp; unset: the working dtype (parallel.reduce_dtype auto).
  std::optional<NumericFormat> reduce_format;
  bool overlap = true;            // gradient reduction overlapped with backward

  int worldSize() const { return dp * pp * tp * sp * ep; }
  // Data-parallel-like replicas of the dense weights: the group their gradients reduce over.
  int denseReplicas() const { return dp * sp * ep; }
  // Sequences per optimizer step over the whole job.
  std::int64_t globalBatch() const { return std::int64_t{micro_batch_size} * micro_batches * dp * ep; }
  int activationBytes() const { return precision == NumericFormat::fp32 ? 4 : 2; }
  // Bytes per element of the working parameters and of the gradients as they are reduced over dp.
  int workingBytes() const { return precision == NumericFormat::fp32 ? 4 : 2; }
  int reduceBytes() const { return reduce_format ? (*reduce_format == NumericFormat::fp32 ? 4 : 2) : workingBytes(); }
  // Throws std::invalid_argument naming the field ("layout.zero: ...").
  void validate() const;
};

}  // namespace behemoth
