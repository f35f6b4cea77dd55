// How a training step turns local gradients into updated parameters: reduce over dp (bucketed,
// overlapped with backward), clip by the global norm, run AdamW. Plain data parallelism and ZeRO
// are the two implementations; the trainer's loop is the same for both.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace behemoth {

class Group;
class LanguageModel;
class Zero3Engine;
struct Project;

// What the global gradient norm spans beyond dp. Under tensor parallelism each tp rank holds a
// different shard, so the norm's sum of squares is also summed over `tp`; parameters replicated
// over tp are counted by one rank only (counted[k] false elsewhere). Default: dp only.
struct NormSpan {
  Group* tp = nullptr;
  std::vector<bool> counted;  // empty: every parameter counts
};

struct UpdateOutcome {
  double grad_norm = 0.0;   // global gradient norm before clipping
  bool skipped = false;     // fp16 overflow: no rank updated anything
  double loss_scale = 1.0;  // the loss scale this step used
};

// A piece of the training state this rank holds, for checkpoints: elements
// [local_begin, local_begin + values.numel()) of the rank's local (tensor-parallel) parameter, as a
// 1-D view into the live state -- reading it saves, writing into it loads.
struct StateView {
  std::string kind;              // "model" (working), "master" (fp32, when separate), "exp_avg", "exp_avg_sq"
  std::size_t param = 0;         // parameter index, model order
  std::int64_t local_begin = 0;
  at::Tensor values;
  bool sharded_over_dp = false;  // true: this dp rank alone holds these elements
  bool saved = true;             // false: loaded only (an fp32 master equal to the "model" values)
};

// The optimizer's scalars an exact resume restores.
struct OptimizerCounters {
  std::int64_t updates = 0;  // AdamW updates applied (bias correction)
  double loss_scale = 1.0;   // fp16 dynamic loss scaling
  int clean_steps = 0;
};

class ParameterUpdater {
 public:
  virtual ~ParameterUpdater() = default;
  virtual void zeroGrad() = 0;
  // Before each micro-batch's backward; only the last one reduces.
  virtual void beginBackward(bool last_micro_batch) = 0;
  virtual void finishReduction() = 0;
  // The trainer multiplies the loss by this before backward.
  virtual double lossScale() const = 0;
  virtual UpdateOutcome step(double lr) = 0;
  // Parameter k at full size in fp32 (no collective: callable on one rank).
  virtual at::Tensor fullParameter(std::size_t k) const = 0;
  // Bytes of parameters, gradients, masters and optimizer states held; the part in host memory.
  virtual std::int64_t stateBytes() const = 0;
  virtual std::int64_t hostStateBytes() const = 0;
  // Checkpoints: every piece of state this rank holds, and the optimizer's counters.
  virtual std::vector<StateView> stateViews() = 0;
  virtual OptimizerCounters counters() const = 0;
  virtual void restoreCounters(const OptimizerCounters& counters) = 0;
  // After a checkpoint was loaded into stateViews(): refresh what derives from them (ZeRO-3:
  // working shards from masters, the persistent chunk). May be a collective over dp.
  virtual void afterStateLoaded() {}
  // ZeRO-3's chunk engine (tier figures, the chunk record); null for the other updaters.
  virtual Zero3Engine* chunkEngine() { return nullptr; }
};

// `working`: the model's parameters (already in the working dtype), in model order.
std::unique_ptr<ParameterUpdater> makeDataParallelUpdater(std::vector<at::Tensor> working, Group& dp,
                                                          const Project& project, NormSpan norm = {});
// ZeRO-3 (parallel.zero 3): traces one forward of `model` to learn each stage's parameters, then
// shards them into chunks and installs itself as the model's stage hooks.
std::unique_ptr<ParameterUpdater> makeZero3Updater(LanguageModel& model, std::vector<std::string> names,
                                                   std::vector<at::Tensor> working, Group& dp, const Project& project,
                                                   NormSpan norm, int world_rank);
std::unique_ptr<ParameterUpdater> makeZeroUpdater(std::vector<at::Tensor> working, Group& dp, const Project& project,
                                                  NormSpan norm = {});

}  // namespace behemoth
