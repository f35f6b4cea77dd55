#include "backend/train/trainer.h"

#include <torch/csrc/autograd/generated/variable_factories.h>
#include <torch/optim/adamw.h>
#include <torch/utils.h>

#include <chrono>
#include <cmath>
#include <stdexcept>

#include "backend/data/batch_sampler.h"
#include "backend/data/corpus.h"
#include "backend/metrics/event_sink.h"
#include "backend/metrics/events.h"
#include "backend/metrics/step_metrics.h"
#include "backend/model/language_model.h"
#include "backend/train/lr_schedule.h"
#include "backend/train/process_stats.h"
#include "parallel/activity.h"
#include "parallel/gradient_buckets.h"
#include "parallel/world.h"

namespace behemoth {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::int64_t tensorBytes(const at::Tensor& t) {
  return t.defined() ? t.numel() * static_cast<std::int64_t>(t.element_size()) : 0;
}

}  // namespace

struct Trainer::State {
  Project project;
  ProcessWorld& world;
  Group& dp;
  std::shared_ptr<LanguageModel> model;
  std::vector<std::string> names;
  std::vector<at::Tensor> working;  // the model's parameters (fp32 or bf16)
  std::vector<at::Tensor> masters;  // fp32 weights the optimizer updates (the same tensors in fp32)
  bool separate_masters = false;
  std::unique_ptr<GradientBuckets> buckets;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::unique_ptr<BatchSampler> sampler;

  State(Project p, ProcessWorld& w) : project(std::move(p)), world(w), dp(w.group(Axis::dp)) {}

  // This rank's rows of the global batch: dp rank r holds [r * local, (r + 1) * local).
  int firstLocalSequence() const { return dp.rank() * project.localBatch(); }

  double trainStep(int step);
  double evaluate();
  double clipGradients();
  void copyGradsToMasters();
  void copyMastersToWorking();
};

Trainer::Trainer(Project project, ProcessWorld& world) : state_(std::make_unique<State>(std::move(project), world)) {
  State& s = *state_;
  const Project& p = s.project;
  s.model = buildModel(p.model, p.train.seed);
  if (p.precision == Precision::bf16) {
    s.model->to(at::kBFloat16);
    s.separate_masters = true;
  } else if (p.precision == Precision::fp16) {
    throw std::invalid_argument("precision: fp16 is not available in this build yet (use fp32 or bf16)");
  }
  for (const auto& item : s.model->named_parameters()) {
    s.names.push_back(item.key());
    s.working.push_back(item.value());
    s.masters.push_back(s.separate_masters ? item.value().detach().to(at::kFloat).requires_grad_(true)
                                           : item.value());
  }
  const auto bucket_bytes = static_cast<std::int64_t>(p.plan.bucket_mb * 1024 * 1024);
  s.buckets = std::make_unique<GradientBuckets>(s.working, s.dp, bucket_bytes, p.plan.overlap);
  if (s.separate_masters) {
    for (auto& master : s.masters) master.mutable_grad() = at::zeros_like(master);
  }

  // Weight decay on matrices only (not on norms, biases): the usual practice for transformers.
  std::vector<at::Tensor> decay;
  std::vector<at::Tensor> no_decay;
  for (const auto& master : s.masters) (master.dim() >= 2 ? decay : no_decay).push_back(master);
  auto options = torch::optim::AdamWOptions(p.optimizer.lr)
                     .betas({p.optimizer.beta1, p.optimizer.beta2})
                     .eps(p.optimizer.eps)
                     .weight_decay(p.optimizer.weight_decay);
  auto no_decay_options = std::make_unique<torch::optim::AdamWOptions>(options);
  no_decay_options->weight_decay(0.0);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(options));
  groups.emplace_back(no_decay, std::move(no_decay_options));
  s.optimizer = std::make_unique<torch::optim::AdamW>(std::move(groups), options);

  SamplerOptions sampling;
  sampling.seq_len = p.model.seq_len;
  sampling.global_batch_size = p.data.global_batch_size;
  sampling.seed = p.train.seed;
  sampling.eval_fraction = p.data.eval_fraction;
  s.sampler = std::make_unique<BatchSampler>(std::make_shared<const Corpus>(loadCorpus(p.data.corpus)), sampling);
}

Trainer::~Trainer() = default;

double Trainer::State::trainStep(int step) {
  const int micro = project.microBatchSize();
  const int micro_batches = project.microBatches();
  buckets->zeroGrad();
  double loss_sum = 0.0;
  for (int m = 0; m < micro_batches; ++m) {
    const Batch batch = sampler->globalBatchSlice(step, firstLocalSequence() + m * micro, micro);
    const std::string doing = "forward/backward step " + std::to_string(step) + " micro-batch " + std::to_string(m);
    ActivityScope activity(doing.c_str());
    const at::Tensor loss = lossFromLogits(model->forward(batch.inputs), batch.targets);
    buckets->beginBackward(/*reduce_after_this_backward=*/m == micro_batches - 1);
    // Each micro-batch is an equal share of the local batch: the mean of their means is the mean.
    (loss / micro_batches).backward();
    loss_sum += loss.item<double>();
  }
  buckets->finishReduction();
  return loss_sum / micro_batches;
}

void Trainer::State::copyGradsToMasters() {
  if (!separate_masters) return;
  for (std::size_t k = 0; k < working.size(); ++k) masters[k].mutable_grad().copy_(working[k].grad());
}

void Trainer::State::copyMastersToWorking() {
  if (!separate_masters) return;
  torch::NoGradGuard no_grad;
  for (std::size_t k = 0; k < working.size(); ++k) working[k].copy_(masters[k]);
}

double Trainer::State::clipGradients() {
  // After the dp reduction every rank holds identical full gradients, so the local norm is global.
  double squares = 0.0;
  for (const auto& master : masters) squares += master.grad().to(at::kDouble).pow(2).sum().item<double>();
  const double norm = std::sqrt(squares);
  const double max_norm = project.optimizer.grad_clip;
  if (max_norm > 0.0 && norm > max_norm) {
    const double scale = max_norm / (norm + 1e-6);
    for (auto& master : masters) master.mutable_grad().mul_(scale);
  }
  return norm;
}

double Trainer::State::evaluate() {
  torch::NoGradGuard no_grad;
  ActivityScope activity("evaluation");
  double sum = 0.0;
  for (int b = 0; b < project.train.eval_batches; ++b) {
    const Batch batch = sampler->evalBatch(b, firstLocalSequence(), project.localBatch());
    sum += lossFromLogits(model->forward(batch.inputs), batch.targets).item<double>();
  }
  at::Tensor mean = at::full({1}, sum / project.train.eval_batches, at::kDouble);
  dp.allReduce(mean, ReduceOp::Avg);
  return mean.item<double>();
}

TrainOutcome Trainer::run(EventSink* sink) {
  State& s = *state_;
  const Project& p = s.project;
  CommCounter& counter = s.world.counter();
  Group& everyone = s.world.world();
  TrainOutcome outcome;
  const double tokens_per_step = double(p.data.global_batch_size) * p.model.seq_len;
  const auto run_start = Clock::now();
  double window_seconds = 0.0;
  int window_steps = 0;

  for (int step = 0; step < p.train.steps; ++step) {
    const auto step_start = Clock::now();
    counter.reset();
    const double local_loss = s.trainStep(step);
    const auto comm_by_axis = counter.byLabel();
    const std::int64_t comm_bytes = counter.takeTotal();
    s.copyGradsToMasters();
    const double lr = learningRateAt(p.optimizer, step, p.train.steps);
    for (auto& group : s.optimizer->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    const double grad_norm = s.clipGradients();
    s.optimizer->step();
    s.copyMastersToWorking();
    s.sampler->advance();
    const double step_seconds = secondsSince(step_start);
    window_seconds += step_seconds;
    ++window_steps;

    // Bookkeeping collectives below are not part of the step's communication: not counted.
    at::Tensor loss = at::full({1}, local_loss, at::kDouble);
    s.dp.allReduce(loss, ReduceOp::Avg);
    outcome.losses.push_back(loss.item<double>());

    const bool last = step + 1 == p.train.steps;
    std::optional<double> eval_loss;
    if (p.train.eval_every > 0 && ((step + 1) % p.train.eval_every == 0 || last)) {
      eval_loss = s.evaluate();
      outcome.eval_losses.emplace_back(step, *eval_loss);
      if (sink) sink->emit(evalEvent(step + 1, *eval_loss));
    }
    const bool log = p.train.log_every > 0 && ((step + 1) % p.train.log_every == 0 || last || step == 0);
    if (log) {
      // Per-rank maxima: model-state bytes, peak RSS, bytes moved by this step's collectives.
      at::Tensor maxima = at::tensor({static_cast<double>(modelStateBytes()), static_cast<double>(peakResidentBytes()),
                                      static_cast<double>(comm_bytes)}, at::kDouble);
      everyone.allReduce(maxima, ReduceOp::Max);
      StepMetrics metrics;
      metrics.step = step + 1;
      metrics.loss = outcome.losses.back();
      metrics.grad_norm = grad_norm;
      metrics.lr = lr;
      metrics.step_time_s = window_seconds / window_steps;
      metrics.tokens_per_s = tokens_per_step / metrics.step_time_s;
      metrics.model_state_bytes = static_cast<std::int64_t>(maxima[0].item<double>());
      metrics.peak_rss_bytes = static_cast<std::int64_t>(maxima[1].item<double>());
      metrics.comm_bytes = static_cast<std::int64_t>(maxima[2].item<double>());
      metrics.comm_bytes_by_axis = comm_by_axis;
      metrics.eval_loss = eval_loss;
      metrics.tokens_seen = static_cast<std::int64_t>(tokens_per_step * (step + 1));
      metrics.elapsed_s = secondsSince(run_start);
      outcome.model_state_bytes = metrics.model_state_bytes;
      outcome.peak_rss_bytes = metrics.peak_rss_bytes;
      if (sink) sink->emit(stepEvent(metrics));
      window_seconds = 0.0;
      window_steps = 0;
    }
    counter.reset();
  }
  outcome.tokens_per_s = tokens_per_step * p.train.steps / secondsSince(run_start);
  return outcome;
}

std::vector<std::pair<std::string, at::Tensor>> Trainer::fullParameters() const {
  std::vector<std::pair<std::string, at::Tensor>> result;
  for (std::size_t k = 0; k < state_->names.size(); ++k) {
    result.emplace_back(state_->names[k], state_->masters[k].detach().to(at::kFloat).clone());
  }
  return result;
}

std::int64_t Trainer::modelStateBytes() const {
  const State& s = *state_;
  std::int64_t bytes = 0;
  for (std::size_t k = 0; k < s.working.size(); ++k) {
    bytes += tensorBytes(s.working[k]) + tensorBytes(s.working[k].grad());
    if (s.separate_masters) bytes += tensorBytes(s.masters[k]) + tensorBytes(s.masters[k].grad());
  }
  for (const auto& [key, state] : s.optimizer->state()) {
    const auto& adam = static_cast<const torch::optim::AdamWParamState&>(*state);
    bytes += tensorBytes(adam.exp_avg()) + tensorBytes(adam.exp_avg_sq()) + tensorBytes(adam.max_exp_avg_sq());
  }
  return bytes;
}

std::int64_t Trainer::parameterCount() const {
  std::int64_t count = 0;
  for (const auto& w : state_->working) count += w.numel();
  return count;
}

}  // namespace behemoth
