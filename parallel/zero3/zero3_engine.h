// ZeRO stage 3 over the data-parallel group with chunk-based heterogeneous memory (PatrickStar,
// arXiv 2108.05818; docs/zero3.md).
//
// The model's parameters are packed, in first-use order, into equal chunks (memory/chunk_layout.h)
// and every chunk is sharded over dp: a rank keeps 1/dp of each chunk's parameters and all of its
// optimizer state for that shard (fp32 gradient, moments, a master when needed), each part on the
// tier the placement gives it (device, host, disk). The model's parameters become views into
// per-chunk *payload* buffers on the device tier whose bytes exist only while the chunk is
// gathered:
//   forward:  before a stage runs, its chunks are all-gathered; after it, the chunks the next stage
//             does not use are released (their bytes freed while autograd keeps the views);
//   backward: the stage's chunks are gathered again before its backward; once every tensor of a
//             chunk has its gradient, the gradients are copied into the payload, reduce-scattered
//             into the rank's fp32 gradient shard (accumulated over micro-batches) and the payload
//             is released;
//   step:     one global-norm clip, then AdamW per shard: by tensor ops for optimizer shards on the
//             device, by the CPU kernel for those in host memory or on disk.
// Tensors smaller than a threshold live in one persistent chunk, gathered all run.
// Every tensor's state (memory/tensor_state.h) is tracked; an illegal move throws naming it.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "memory/chunk_layout.h"
#include "memory/chunk_placement.h"
#include "parallel/group.h"
#include "parallel/zero/loss_scaler.h"
#include "parallel/zero3/stage_hooks.h"
#include "parallel/zero3/tier_ledger.h"
#include "parallel/zero3/use_trace.h"

namespace behemoth {

struct Zero3Options {
  std::int64_t chunk_elements = 0;  // 0: the capacity with the least padding
  bool auto_placement = false;      // false: static fractions below
  double offload_param_fraction = 0.0;
  double offload_optim_fraction = 0.0;
  double disk_optim_fraction = 0.0;
  std::int64_t device_budget_bytes = 0;  // 0: no budget
  std::filesystem::path offload_dir;     // the disk tier's directory (disk_optim_fraction > 0)
  int prefetch = 2;                      // auto: parameter shards brought back ahead of use
  at::ScalarType comm_dtype = at::kFloat;  // gradients are reduce-scattered in this dtype
  // fp16: dynamic loss scaling, one decision for every shard on every tier; and the working values
  // rounded to this dtype after each update (on a CPU fp16 computes in fp32 with fp16-rounded
  // weights, which needs a separate fp32 master for every chunk).
  std::optional<LossScalerOptions> loss_scaling;
  std::optional<at::ScalarType> round_working_to;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // for parameters whose decay flag is set
  // Tensor parallelism: the norm's sum of squares is also summed over this group; parameter k
  // counts only where counted_in_norm[k] (empty: all).
  Group* norm_group = nullptr;
  std::vector<bool> counted_in_norm;
  // Bytes of live tensors outside the device tier's own pool (the counting allocator), used to
  // know the non-model memory beside the chunks; null: taken as 0.
  std::function<std::int64_t()> live_tensor_bytes;
  int layers = 0;      // transformer blocks (stage names)
  int world_rank = 0;  // the disk tier's file name
};

struct Zero3StepOutcome {
  double grad_norm = 0.0;
  bool skipped = false;     // fp16: a gradient held inf/NaN on some rank; no shard was updated
  double loss_scale = 1.0;  // the scale this step's loss was multiplied by
};

// A rank's tier figures for one step (what the step events carry).
struct Zero3TierFigures {
  std::int64_t bytes[kTierCount] = {0, 0, 0};  // chunk state per tier now (device: gathered chunks included)
  std::int64_t device_peak_bytes = 0;          // device tier plus non-model tensors, at its most in the step
  std::int64_t moved_bytes = 0;                // copied between tiers in the step
  int chunks[kTierCount] = {0, 0, 0};          // parameter shards plus optimizer shards per tier
  std::vector<TierMove> moves;                 // every copy between tiers in the step
};

// auto placement: what the traced first step saw at one position of the use sequence (a stage's
// forward or backward).
struct Zero3TracePoint {
  int position = 0;
  std::string stage;               // "embed", "block N", "head"
  std::string phase;               // "forward" | "backward"
  std::int64_t peak_bytes = 0;     // the most non-model bytes at any of its operators
  std::int64_t entry_bytes = 0;    // the non-model bytes when the stage began
  std::int64_t operators = 0;      // operators observed
};

// One parameter piece of this rank's shards, as views into the live state (checkpoints).
struct Zero3StateView {
  std::size_t param = 0;
  std::int64_t param_offset = 0;  // first element inside the flattened parameter
  at::Tensor model;               // the working values
  at::Tensor master;              // fp32, undefined when the working shard is the master
  at::Tensor exp_avg;
  at::Tensor exp_avg_sq;
};

class Zero3Engine final : public StageHooks {
 public:
  // `params`: the model's parameters at full size (model order); their storage moves into chunks.
  // `uses`: which parameters each stage uses (traceStageUses). Throws std::invalid_argument naming
  // the parallel.* field when the placement, budget or disk tier cannot work.
  Zero3Engine(std::vector<at::Tensor> params, std::vector<std::string> names, std::vector<bool> decay, StageUses uses,
              Group& dp, Zero3Options options);
  ~Zero3Engine() override;
  Zero3Engine(const Zero3Engine&) = delete;
  Zero3Engine& operator=(const Zero3Engine&) = delete;

  void beforeStage(int stage) override;
  at::Tensor afterStage(int stage, const at::Tensor& output) override;
  // Called by the autograd node afterStage placed: the stage's backward is about to run.
  void beforeStageBackward(int stage);

  void zeroGrad();
  void beginBackward(bool last_micro_batch);
  // After the last micro-batch's backward: checks every chunk was reduced, averages over dp.
  void finishReduction();
  Zero3StepOutcome step(double lr, double max_norm);

  // Parameter k at full size in fp32: a collective over dp (every dp rank calls it, same order).
  at::Tensor fullParameter(std::size_t k);
  // Parameters, gradients, masters and optimizer states this rank holds (every tier), plus the
  // chunks gathered now; the part in host memory; the part on disk.
  std::int64_t stateBytes() const;
  std::int64_t hostStateBytes() const;
  // This step's tier figures; starts the next step's counting.
  Zero3TierFigures takeTierFigures();
  const TierLedger& ledger() const;
  const ChunkLayout& layout() const;
  // Where chunk c's parameter and optimizer shards are now.
  Tier paramTier(std::size_t chunk) const;
  Tier optimTier(std::size_t chunk) const;
  const std::vector<std::string>& names() const;
  int workingBytes() const;
  // auto placement: the traced first step's non-model memory per position (empty until traced).
  std::vector<Zero3TracePoint> nonModelTrace() const;  // bytes per element of the working parameters

  // Checkpoints: views of this rank's shards, and AdamW's update count.
  std::vector<Zero3StateView> stateViews();
  std::int64_t updates() const;
  void setUpdates(std::int64_t updates);
  // fp16's loss scaler (1 and 0 without one): what the trainer multiplies the loss by, and its
  // clean-step count; a resumed run puts both back.
  double lossScale() const;
  int cleanSteps() const;
  void restoreLossScale(double scale, int clean_steps);
  // After a checkpoint wrote into the views: refresh what derives from them (working shards from
  // fp32 masters, the persistent chunk's gathered values). A collective over dp.
  void afterStateLoaded();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace behemoth
