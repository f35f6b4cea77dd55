// Applies 1D tensor parallelism (and Megatron sequence parallelism) to a zoo model, in place:
// every large matrix is replaced by this tp rank's shard, sliced from the full parameters the seed
// initialized, so any layout starts from the same weights as one process.
//
//   GPT:   attn.qkv column-parallel, split per head so each rank holds matching q, k and v heads;
//          attn.proj row-parallel; mlp.fc column-parallel; mlp.proj row-parallel.
//   LLaMA: attn.q column-parallel; attn.k / attn.v column-parallel when n_kv_head divides by tp,
//          otherwise each kv head is replicated on the tp / n_kv_head ranks whose query heads read
//          it (their gradients summed over those ranks); attn.o row-parallel; mlp.gate / mlp.up
//          column-parallel; mlp.down row-parallel.
//   Both:  tok_emb vocabulary-parallel, lm_head (untied) column-parallel over the vocabulary, the
//          vocabulary padded with zero rows to a multiple of tp; the loss is the vocabulary-parallel
//          cross-entropy (LanguageModel::loss). Norms, position embeddings and row-parallel biases
//          stay replicated; under SP their gradients are partial (each rank saw 1/tp of the
//          tokens), so a gradient hook sums them over tp before any data-parallel reduction.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "parallel/group.h"
#include "parallel/plan.h"

namespace behemoth {

class LanguageModel;
class ProcessWorld;

// One dimension of a parameter split over a 2D / 2.5D / 3D tp grid: `parts` equal blocks (after
// padding the dimension to a multiple of parts; only the vocabulary is padded), this rank holding
// block `index`. Along dim 0 a block may be `interleaved` (GPT's fused qkv: the rank's block of
// each of q, k and v).
struct GridSplit {
  int dim = 0;
  int parts = 1;
  int index = 0;
  int interleaved = 1;
  std::int64_t full_size = 0;  // the unpadded size of dim
};

// Where one parameter lives over the tp group.
struct ParameterPlacement {
  bool sharded = false;          // false: every tp rank holds the whole (identical) parameter
  int dim = 0;                   // sharded: the split dimension
  int interleaved = 1;           // sharded: blocks per rank along dim (GPT's fused qkv: 3)
  std::int64_t full_size = 0;    // sharded: the unpadded size of dim
  int replicas = 1;              // sharded: consecutive tp ranks holding the same shard (GQA kv)
  bool partial_gradient = false; // each rank's gradient is a part, summed over the ranks holding it
  // 2D / 2.5D / 3D: the splits of this rank's block (empty under 1D, whose fields above apply),
  // how many tp ranks hold this same block and which of them this rank is.
  std::vector<GridSplit> grid;
  int copies = 1;
  int copy_index = 0;
};

struct TensorParallelLayout {
  int tp = 1;
  bool sequence_parallel = false;
  std::int64_t padded_vocab = 0;
  std::map<std::string, ParameterPlacement> placements;  // every parameter, by name

  const ParameterPlacement& placement(const std::string& name) const;
  // Whether this rank counts the parameter in a global (dp x tp) gradient norm: each distinct
  // shard once (by the first rank holding it), replicated parameters on tp rank 0 only.
  bool countsInNorm(const std::string& name, int tp_rank) const;
};

// Shards `model` over world.group(Axis::tp) as the plan says (plan.tp, plan.sequence_parallel), and
// under plan.sp > 1 gives it the sp group its attention spans (plan.sp_mode).
// With tp == 1 nothing changes and every parameter is reported replicated. Throws
// std::invalid_argument naming the model field that cannot be split.
TensorParallelLayout parallelize(LanguageModel& model, const Plan& plan, ProcessWorld& world);
// The same over an explicit tp group (tests).
TensorParallelLayout parallelize(LanguageModel& model, Group& tp_group, bool sequence_parallel);

// The whole parameter from this rank's part: an all-gather over tp for shards (collective: every
// rank of the group must call it, in the same order), the local tensor for replicated ones.
at::Tensor gatherFullParameter(const at::Tensor& local, const ParameterPlacement& placement, Group& tp_group);

}  // namespace behemoth
