// ZeRO stage 1 or 2 (parallel/zero/) behind the trainer's ParameterUpdater interface.
#include "backend/project/project.h"
#include "backend/train/fp16_scaling.h"
#include "backend/train/parameter_updater.h"
#include "backend/train/reduce_dtype.h"
#include "parallel/zero/zero_optimizer.h"

namespace behemoth {
namespace {

class ZeroUpdater final : public ParameterUpdater {
 public:
  ZeroUpdater(std::vector<at::Tensor> working, Group& dp, const Project& project, NormSpan norm)
      : working_(working), max_norm_(project.optimizer.grad_clip), fp32_(project.precision == Precision::fp32) {
    std::vector<bool> decay;
    for (const auto& w : working) decay.push_back(w.dim() >= 2);
    ZeroOptions options;
    options.stage = project.plan.zero;
    options.bucket_bytes = static_cast<std::int64_t>(project.plan.bucket_mb * 1024 * 1024);
    options.overlap = project.plan.overlap;
    options.offload = project.plan.offload_optimizer;
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
    zero_ = std::make_unique<ZeroOptimizer>(std::move(working), std::move(decay), dp, options);
  }

  void zeroGrad() override { zero_->zeroGrad(); }
  void beginBackward(bool last) override { zero_->beginBackward(last); }
  void finishReduction() override { zero_->finishReduction(); }
  double lossScale() const override { return zero_->lossScale(); }
  UpdateOutcome step(double lr) override {
    const ZeroStepOutcome z = zero_->step(lr, max_norm_);
    return {z.grad_norm, z.skipped, z.loss_scale};
  }
  // The working parameters are complete on every rank after each step's all-gather; in fp32 they
  // are the masters themselves (in bf16/fp16 they are the masters rounded).
  at::Tensor fullParameter(std::size_t k) const override { return working_.at(k).detach().to(at::kFloat).clone(); }
  std::int64_t stateBytes() const override { return zero_->stateBytes(); }
  std::int64_t hostStateBytes() const override { return zero_->hostStateBytes(); }

  std::vector<StateView> stateViews() override {
    std::vector<StateView> views;
    for (std::size_t k = 0; k < working_.size(); ++k) views.push_back({"model", k, 0, working_[k].detach().view({-1}), false});
    for (const ZeroStateView& piece : zero_->partitionViews()) {
      // fp32 masters kept apart (offload) hold the working values exactly: saved once, as "model".
      if (piece.master.defined()) {
        const bool same_as_working = fp32_;
        views.push_back({same_as_working ? "model" : "master", piece.param, piece.param_offset, piece.master, true,
                         /*saved=*/!same_as_working});
      }
      views.push_back({"exp_avg", piece.param, piece.param_offset, piece.exp_avg, true});
      views.push_back({"exp_avg_sq", piece.param, piece.param_offset, piece.exp_avg_sq, true});
    }
    return views;
  }
  OptimizerCounters counters() const override {
    const ZeroCounters z = zero_->counters();
    return {z.updates, z.loss_scale, z.clean_steps};
  }
  void restoreCounters(const OptimizerCounters& c) override { zero_->restoreCounters({c.updates, c.loss_scale, c.clean_steps}); }

 private:
  std::vector<at::Tensor> working_;
  double max_norm_;
  bool fp32_;  // working parameters are the masters' exact values (fp16 rounds them, bf16 stores them narrower)
  std::unique_ptr<ZeroOptimizer> zero_;
};

}  // namespace

std::unique_ptr<ParameterUpdater> makeZeroUpdater(std::vector<at::Tensor> working, Group& dp, const Project& project,
                                                  NormSpan norm) {
  return std::make_unique<ZeroUpdater>(std::move(working), dp, project, std::move(norm));
}

}  // namespace behemoth
