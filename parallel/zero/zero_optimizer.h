// ZeRO stages 1 and 2 (arXiv 1910.02054) over the data-parallel group, with AdamW.
//
// Every rank keeps the full working parameters (as views into flat, padded bucket buffers, see
// zero_layout.h) but only its partition of the optimizer states and fp32 master weights.
//   stage 1: gradients stay full size (its memory cost), but each bucket is reduce-scattered as
//            soon as backward fills it (overlapped); only the rank's own shard is reduced and used.
//   stage 2: gradients are sharded too: each filled bucket is reduce-scattered during backward and
//            only the rank's shard (fp32) is kept; the full-size gradient is released at once.
// Either way reduce-scatter plus all-gather move exactly what DDP's all-reduce moves.
// Then each rank runs AdamW (kernels/cpu_adamw.h) on its shard and the updated shards are
// all-gathered bucket by bucket. With gradient accumulation only the last micro-batch's backward
// reduces: one reduction per optimizer step.
//
// Gradient clipping uses the true global norm: each rank's sum of squares over its shard,
// all-reduced. That one 8-byte all-reduce also detects overflow for dynamic loss scaling: an
// inf/NaN on any rank makes the global sum non-finite on every rank, so all ranks skip together.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "parallel/gradient_ready_hooks.h"
#include "parallel/group.h"
#include "parallel/zero/loss_scaler.h"
#include "parallel/zero/optimizer_state.h"
#include "parallel/zero/zero_layout.h"

namespace behemoth {

struct ZeroOptions {
  int stage = 1;                          // 1 or 2
  std::int64_t bucket_bytes = 25 << 20;   // working-dtype bytes per bucket
  bool overlap = true;                    // reduce buckets during backward
  bool offload = false;                   // partition states and masters in host memory
  std::optional<LossScalerOptions> loss_scaling;  // set: dynamic loss scaling (fp16)
  at::ScalarType comm_dtype = at::kFloat; // gradients are reduced in this dtype (fp16: half)
  // Set: working parameters are kept rounded to this dtype while stored wider (fp16 on a CPU,
  // where LibTorch has no fp16 matmul/norm/softmax kernels, so the model computes in fp32).
  std::optional<at::ScalarType> round_working_to;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;              // applied to parameters whose decay flag is set
  // Tensor parallelism: the global norm's sum of squares is also summed over this group, and
  // parameter k enters this rank's sum only where counted_in_norm[k] (empty: all). Replicated
  // parameters are counted by one rank of the group, shards by every rank.
  Group* norm_group = nullptr;
  std::vector<bool> counted_in_norm;
};

struct ZeroStepOutcome {
  double grad_norm = 0.0;  // global norm of the (unscaled) gradient, before clipping
  bool skipped = false;    // overflow: nothing was updated on any rank
  double loss_scale = 1.0; // the scale used for this step's loss
};

// One parameter piece of this rank's partition, as views into the live state (checkpoints).
struct ZeroStateView {
  std::size_t param = 0;
  std::int64_t param_offset = 0;  // first element inside the (flattened) parameter
  at::Tensor master;              // fp32; undefined when the working shard is the master (fp32 training)
  at::Tensor exp_avg;
  at::Tensor exp_avg_sq;
};

struct ZeroCounters {
  std::int64_t updates = 0;  // updates applied (AdamW's bias correction)
  double loss_scale = 1.0;
  int clean_steps = 0;       // the loss scaler's clean steps in a row
};

class ZeroOptimizer {
 public:
  // `params`: the model's parameters in model order (their storage moves into flat buffers);
  // `decay[k]`: whether parameter k gets weight decay.
  ZeroOptimizer(std::vector<at::Tensor> params, std::vector<bool> decay, Group& dp_group, ZeroOptions options);
  ~ZeroOptimizer();
  ZeroOptimizer(const ZeroOptimizer&) = delete;
  ZeroOptimizer& operator=(const ZeroOptimizer&) = delete;

  void zeroGrad();
  // Before each micro-batch's backward; only the backward with `reduce_after_this_backward` reduces.
  void beginBackward(bool reduce_after_this_backward);
  // After the last backward: reduces what has not been, waits, averages over dp.
  void finishReduction();
  // Multiply the loss by this before backward (1 without loss scaling).
  double lossScale() const { return scaler_ ? scaler_->scale() : 1.0; }
  // Clips to max_norm (0: no clipping), updates the partition, all-gathers the parameters.
  ZeroStepOutcome step(double lr, double max_norm);

  // Bytes of parameters, gradients, masters and optimizer states this rank holds, and the part of
  // them placed in host memory by offload.
  std::int64_t stateBytes() const;
  std::int64_t hostStateBytes() const;
  const ZeroLayout& layout() const { return layout_; }

  // Checkpoint forms of the masters and moments (parallel/zero/optimizer_state.h, defined in
  // zero_optimizer_state.cpp). shardedState: this rank's partition, no collective. fullState: every
  // parameter's state, a collective over dp. loadShardedState: a shard written by this dp rank of a
  // run with the same layout (throws naming what differs), then the working parameters are
  // all-gathered from the masters (collective). loadFullState: a full state written at any dp; each
  // rank takes its partition and sets its working parameters from the masters (no collective).
  ShardedOptimizerState shardedState();
  FullOptimizerState fullState();
  void loadShardedState(const ShardedOptimizerState& state);
  void loadFullState(const FullOptimizerState& state);
  std::int64_t stepsTaken() const { return steps_; }
  // Checkpoints in any layout: views of this rank's partition, and the counters to restore.
  std::vector<ZeroStateView> partitionViews();
  ZeroCounters counters() const;
  void restoreCounters(const ZeroCounters& counters);

 private:
  struct Bucket;
  struct Segment;
  void markReady(std::size_t param_index);
  void launchReadyBuckets();
  void launch(std::size_t bucket_index);
  // Waits for the bucket's reduce-scatter, stores the averaged shard; no-op when nothing is in flight.
  void complete(std::size_t bucket_index);
  at::Tensor gradientShard(std::size_t bucket_index);
  at::Tensor masterShard(std::size_t bucket_index);
  at::Tensor workingShard(std::size_t bucket_index);
  at::Tensor bucketParameters(std::size_t bucket_index);  // the whole flat buffer (every rank's shard)

  std::vector<at::Tensor> params_;
  Group& group_;
  ZeroOptions options_;
  ZeroLayout layout_;
  std::vector<Segment> segments_;
  std::vector<std::unique_ptr<Bucket>> buckets_;
  at::Tensor masters_;        // fp32 partition; undefined when the working shard is the master
  at::Tensor exp_avg_;        // fp32 partition
  at::Tensor exp_avg_sq_;     // fp32 partition
  at::Tensor grad_partition_; // stage 2: the rank's reduced gradient shard (fp32)
  std::optional<LossScaler> scaler_;
  std::int64_t steps_ = 0;    // updates applied (skipped steps excluded)
  std::int64_t calls_ = 0;    // step() calls (for the test hook)
  bool reducing_ = false;
  std::size_t next_to_launch_ = 0;
  std::unique_ptr<GradientReadyHooks> ready_hooks_;  // only when overlapping
};

}  // namespace behemoth
