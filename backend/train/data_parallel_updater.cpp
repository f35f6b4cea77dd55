// Plain data parallelism: every rank holds everything; GradientBuckets all-reduces the gradients;
// torch's AdamW updates fp32 masters (the parameters themselves in fp32, copies in bf16).
#include <torch/optim/adamw.h>
#include <torch/utils.h>

#include <cmath>

#include "backend/project/project.h"
#include "backend/train/parameter_updater.h"
#include "backend/train/reduce_dtype.h"
#include "kernels/sum_of_squares.h"
#include "parallel/gradient_buckets.h"

namespace behemoth {
namespace {

std::int64_t tensorBytes(const at::Tensor& t) {
  return t.defined() ? t.numel() * static_cast<std::int64_t>(t.element_size()) : 0;
}

class DataParallelUpdater final : public ParameterUpdater {
 public:
  DataParallelUpdater(std::vector<at::Tensor> working, Group& dp, const Project& project, NormSpan norm)
      : working_(std::move(working)), max_norm_(project.optimizer.grad_clip), norm_(std::move(norm)) {
    separate_masters_ = working_.front().scalar_type() != at::kFloat;
    for (const auto& w : working_) {
      masters_.push_back(separate_masters_ ? w.detach().to(at::kFloat).requires_grad_(true) : w);
    }
    const auto bucket_bytes = static_cast<std::int64_t>(project.plan.bucket_mb * 1024 * 1024);
    buckets_ = std::make_unique<GradientBuckets>(working_, dp, bucket_bytes, project.plan.overlap,
                                                 gradientReduceDtype(project));
    if (separate_masters_) {
      for (auto& master : masters_) master.mutable_grad() = at::zeros_like(master);
    }
    // Weight decay on matrices only (not on norms, biases): the usual practice for transformers.
    std::vector<at::Tensor> decay;
    std::vector<at::Tensor> no_decay;
    for (const auto& master : masters_) (master.dim() >= 2 ? decay : no_decay).push_back(master);
    const OptimizerConfig& o = project.optimizer;
    auto options = torch::optim::AdamWOptions(o.lr).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(o.weight_decay);
    auto no_decay_options = std::make_unique<torch::optim::AdamWOptions>(options);
    no_decay_options->weight_decay(0.0);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(options));
    groups.emplace_back(no_decay, std::move(no_decay_options));
    optimizer_ = std::make_unique<torch::optim::AdamW>(std::move(groups), options);
    // The moments exist from the start (zeros, as AdamW would create them at its first step), so
    // a checkpoint can be loaded into them before any step.
    for (const auto& master : masters_) {
      auto state = std::make_unique<torch::optim::AdamWParamState>();
      state->step(0);
      state->exp_avg(at::zeros_like(master, at::MemoryFormat::Preserve));
      state->exp_avg_sq(at::zeros_like(master, at::MemoryFormat::Preserve));
      optimizer_->state()[stateKey(master)] = std::move(state);
    }
  }

  void zeroGrad() override { buckets_->zeroGrad(); }
  void beginBackward(bool last) override { buckets_->beginBackward(last); }
  void finishReduction() override { buckets_->finishReduction(); }
  double lossScale() const override { return 1.0; }

  UpdateOutcome step(double lr) override {
    if (separate_masters_) {
      for (std::size_t k = 0; k < working_.size(); ++k) masters_[k].mutable_grad().copy_(working_[k].grad());
    }
    for (auto& group : optimizer_->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    UpdateOutcome outcome;
    // After the dp reduction every rank of a dp group holds identical gradients, so the local norm
    // is global over dp; tp shards are summed (replicated parameters counted once).
    double squares = 0.0;
    for (std::size_t k = 0; k < masters_.size(); ++k) {
      if (!norm_.counted.empty() && !norm_.counted[k]) continue;
      squares += sumOfSquares(masters_[k].grad());
    }
    if (norm_.tp != nullptr && norm_.tp->size() > 1) {
      at::Tensor total = at::full({1}, squares, at::kDouble);
      norm_.tp->allReduce(total);
      squares = total.item<double>();
    }
    outcome.grad_norm = std::sqrt(squares);
    if (max_norm_ > 0.0 && outcome.grad_norm > max_norm_) {
      const double scale = max_norm_ / (outcome.grad_norm + 1e-6);
      for (auto& master : masters_) master.mutable_grad().mul_(scale);
    }
    optimizer_->step();
    if (separate_masters_) {
      torch::NoGradGuard no_grad;
      for (std::size_t k = 0; k < working_.size(); ++k) working_[k].copy_(masters_[k]);
    }
    return outcome;
  }

  at::Tensor fullParameter(std::size_t k) const override { return masters_.at(k).detach().to(at::kFloat).clone(); }

  std::int64_t stateBytes() const override {
    std::int64_t bytes = 0;
    for (std::size_t k = 0; k < working_.size(); ++k) {
      bytes += tensorBytes(working_[k]) + tensorBytes(working_[k].grad());
      if (separate_masters_) bytes += tensorBytes(masters_[k]) + tensorBytes(masters_[k].grad());
    }
    for (const auto& [key, state] : optimizer_->state()) {
      const auto& adam = static_cast<const torch::optim::AdamWParamState&>(*state);
      bytes += tensorBytes(adam.exp_avg()) + tensorBytes(adam.exp_avg_sq()) + tensorBytes(adam.max_exp_avg_sq());
    }
    return bytes;
  }
  std::int64_t hostStateBytes() const override { return 0; }

  std::vector<StateView> stateViews() override {
    std::vector<StateView> views;
    const auto flat = [](const at::Tensor& t) { return t.detach().view({-1}); };
    for (std::size_t k = 0; k < working_.size(); ++k) {
      views.push_back({"model", k, 0, flat(working_[k]), false});
      if (separate_masters_) views.push_back({"master", k, 0, flat(masters_[k]), false});
      const auto& adam = adamState(k);
      views.push_back({"exp_avg", k, 0, flat(adam.exp_avg()), false});
      views.push_back({"exp_avg_sq", k, 0, flat(adam.exp_avg_sq()), false});
    }
    return views;
  }

  OptimizerCounters counters() const override {
    OptimizerCounters counters;
    counters.updates = masters_.empty() ? 0 : adamState(0).step();
    return counters;
  }

  void restoreCounters(const OptimizerCounters& counters) override {
    for (std::size_t k = 0; k < masters_.size(); ++k) adamState(k).step(counters.updates);
  }

 private:
  static std::string stateKey(const at::Tensor& master) { return c10::guts::to_string(master.unsafeGetTensorImpl()); }
  torch::optim::AdamWParamState& adamState(std::size_t k) const {
    return static_cast<torch::optim::AdamWParamState&>(*optimizer_->state().at(stateKey(masters_[k])));
  }

  std::vector<at::Tensor> working_;
  std::vector<at::Tensor> masters_;
  bool separate_masters_ = false;
  double max_norm_;
  NormSpan norm_;
  std::unique_ptr<GradientBuckets> buckets_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
};

}  // namespace

std::unique_ptr<ParameterUpdater> makeDataParallelUpdater(std::vector<at::Tensor> working, Group& dp,
                                                          const Project& project, NormSpan norm) {
  return std::make_unique<DataParallelUpdater>(std::move(working), dp, project, std::move(norm));
}

}  // namespace behemoth
