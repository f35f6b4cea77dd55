// ZeRO-3 with chunks and memory tiers (parallel/zero3/) behind the trainer's ParameterUpdater.
// Before the engine takes the parameters, one forward of a single token is traced to learn which
// parameters each stage uses: the order they are first used is the order they are packed in.
#include <ATen/ATen.h>

#include "backend/metrics/tensor_memory.h"
#include "backend/model/language_model.h"
#include "backend/project/project.h"
#include "backend/train/fp16_scaling.h"
#include "backend/train/parameter_updater.h"
#include "backend/train/reduce_dtype.h"
#include "parallel/zero3/zero3_engine.h"

namespace behemoth {
namespace {

// Records every stage's output of one forward.
class StageOutputRecorder final : public StageHooks {
 public:
  void beforeStage(int /*stage*/) override {}
  at::Tensor afterStage(int /*stage*/, const at::Tensor& output) override {
    outputs.push_back(output);
    return output;
  }
  std::vector<at::Tensor> outputs;
};

StageUses traceUses(LanguageModel& model, const std::vector<at::Tensor>& params, const Project& project) {
  StageOutputRecorder recorder;
  const Recompute recompute = model.recompute();
  // Recomputation would hide a block's parameters inside its checkpoint node; dropout is off.
  model.setRecompute(Recompute::none);
  model.eval();
  model.setStageHooks(&recorder);
  const bool sequence_sharded = project.plan.sequence_parallel && project.plan.tp > 1;
  // The shortest local sequence every split accepts: a token per tp rank under Megatron-SP, and two
  // (one per zigzag chunk) under sp.
  const std::int64_t length = (sequence_sharded ? project.plan.tp : 1) * (project.plan.sp > 1 ? 2 : 1);
  const at::Tensor tokens = at::zeros({1, length}, at::kLong);
  {
    const at::AutoGradMode grad(true);
    model.loss(tokens, tokens);
  }
  model.setStageHooks(nullptr);
  model.train();
  model.setRecompute(recompute);
  return traceStageUses(recorder.outputs, params);
}

class Zero3Updater final : public ParameterUpdater {
 public:
  Zero3Updater(LanguageModel& model, std::vector<std::string> names, std::vector<at::Tensor> working, Group& dp,
               const Project& project, NormSpan norm, int world_rank)
      : model_(model), max_norm_(project.optimizer.grad_clip), fp32_(project.precision == Precision::fp32) {
    std::vector<bool> decay;
    for (const auto& w : working) decay.push_back(w.dim() >= 2);
    StageUses uses = traceUses(model, working, project);
    const Plan& plan = project.plan;
    Zero3Options options;
    const auto element = static_cast<double>(working.front().element_size());
    options.chunk_elements = static_cast<std::int64_t>(plan.chunk_mb * 1024.0 * 1024.0 / element);
    options.auto_placement = plan.placement == "auto";
    options.offload_param_fraction = plan.offload_param_fraction;
    options.offload_optim_fraction = plan.offload_optim_fraction;
    options.disk_optim_fraction = plan.disk_optim_fraction;
    options.device_budget_bytes = static_cast<std::int64_t>(plan.device_budget_mb * 1024.0 * 1024.0);
    options.offload_dir = plan.offload_dir;
    options.prefetch = plan.prefetch;
    options.comm_dtype = gradientReduceDtype(project);
    const Fp16Scaling fp16 = fp16ScalingFor(project, working.front());
    options.loss_scaling = fp16.loss_scaling;
    options.round_working_to = fp16.round_working_to;
    options.beta1 = project.optimizer.beta1;
    options.beta2 = project.optimizer.beta2;
    options.eps = project.optimizer.eps;
    options.weight_decay = project.optimizer.weight_decay;
    options.norm_group = norm.tp;
    options.counted_in_norm = std::move(norm.counted);
    if (tensor_memory::countingAllocatorInstalled()) options.live_tensor_bytes = [] { return tensor_memory::liveBytes(); };
    options.layers = project.model.n_layer;
    options.world_rank = world_rank;
    engine_ = std::make_unique<Zero3Engine>(std::move(working), std::move(names), std::move(decay), std::move(uses), dp,
                                            std::move(options));
    model_.setStageHooks(engine_.get());
  }
  ~Zero3Updater() override { model_.setStageHooks(nullptr); }

  void zeroGrad() override { engine_->zeroGrad(); }
  void beginBackward(bool last) override { engine_->beginBackward(last); }
  void finishReduction() override { engine_->finishReduction(); }
  double lossScale() const override { return engine_->lossScale(); }
  UpdateOutcome step(double lr) override {
    const Zero3StepOutcome z = engine_->step(lr, max_norm_);
    return {z.grad_norm, z.skipped, z.loss_scale};
  }
  at::Tensor fullParameter(std::size_t k) const override { return engine_->fullParameter(k); }
  std::int64_t stateBytes() const override { return engine_->stateBytes(); }
  std::int64_t hostStateBytes() const override { return engine_->hostStateBytes(); }
  Zero3Engine* chunkEngine() override { return engine_.get(); }

  std::vector<StateView> stateViews() override {
    std::vector<StateView> views;
    for (const Zero3StateView& piece : engine_->stateViews()) {
      views.push_back({"model", piece.param, piece.param_offset, piece.model, true});
      // A separate fp32 master next to fp32 working values holds the same numbers: loaded, not saved.
      if (piece.master.defined()) {
        views.push_back({fp32_ ? "model" : "master", piece.param, piece.param_offset, piece.master, true, !fp32_});
      }
      views.push_back({"exp_avg", piece.param, piece.param_offset, piece.exp_avg, true});
      views.push_back({"exp_avg_sq", piece.param, piece.param_offset, piece.exp_avg_sq, true});
    }
    return views;
  }
  void afterStateLoaded() override { engine_->afterStateLoaded(); }
  OptimizerCounters counters() const override {
    return {engine_->updates(), engine_->lossScale(), engine_->cleanSteps()};
  }
  void restoreCounters(const OptimizerCounters& c) override {
    engine_->setUpdates(c.updates);
    engine_->restoreLossScale(c.loss_scale, c.clean_steps);
  }

 private:
  LanguageModel& model_;
  double max_norm_;
  bool fp32_;
  std::unique_ptr<Zero3Engine> engine_;
};

}  // namespace

std::unique_ptr<ParameterUpdater> makeZero3Updater(LanguageModel& model, std::vector<std::string> names,
                                                   std::vector<at::Tensor> working, Group& dp, const Project& project,
                                                   NormSpan norm, int world_rank) {
  return std::make_unique<Zero3Updater>(model, std::move(names), std::move(working), dp, project, std::move(norm),
                                        world_rank);
}

}  // namespace behemoth
