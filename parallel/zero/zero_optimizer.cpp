#include "parallel/zero/zero_optimizer.h"


#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>

#include "kernels/cpu_adamw.h"
#include "kernels/sum_of_squares.h"
#include "parallel/zero/test_hooks.h"

namespace behemoth {

struct ZeroOptimizer::Bucket {
  at::Tensor params;  // flat working parameters, padded; the model's parameters are views into it
  at::Tensor grads;   // stage 1: flat gradients (the parameters' .grad are views); stage 2: unused
  at::Tensor reduced; // this rank's reduced shard (comm dtype), filled when `work` completes
  std::size_t pending = 0;
  std::size_t size = 0;
  std::optional<PendingWork> work;
};

// A parameter piece inside the rank's shard of one bucket (what one AdamW call updates).
struct ZeroOptimizer::Segment {
  std::size_t bucket = 0;
  std::int64_t shard_offset = 0;      // inside the bucket's shard
  std::int64_t partition_offset = 0;  // inside the rank's partition
  std::int64_t numel = 0;
  bool decay = false;
  bool in_norm = true;
};

namespace {

std::vector<std::int64_t> numelsOf(const std::vector<at::Tensor>& params) {
  std::vector<std::int64_t> numels;
  for (const auto& p : params) numels.push_back(p.numel());
  return numels;
}

int elementBytes(const std::vector<at::Tensor>& params) {
  if (params.empty()) throw std::invalid_argument("ZeroOptimizer: no parameters");
  for (const auto& p : params) {
    if (p.scalar_type() != params.front().scalar_type()) {
      throw std::invalid_argument("ZeroOptimizer: every parameter must have the same dtype");
    }
  }
  return static_cast<int>(params.front().element_size());
}

// Buckets whose reduce-scatter may be in flight at once: each holds two bucket-sized staging buffers
// until it completes, so an unbounded number would cost stage 2 its gradient-memory saving.
constexpr std::size_t kMaxBucketsInFlight = 2;

std::int64_t bytesOf(const at::Tensor& t) {
  return t.defined() ? t.numel() * static_cast<std::int64_t>(t.element_size()) : 0;
}

}  // namespace

ZeroOptimizer::ZeroOptimizer(std::vector<at::Tensor> params, std::vector<bool> decay, Group& dp_group,
                             ZeroOptions options)
    : params_(std::move(params)),
      group_(dp_group),
      options_(options),
      layout_(numelsOf(params_), elementBytes(params_), options.bucket_bytes, dp_group.size()) {
  if (options_.stage != 1 && options_.stage != 2) {
    throw std::invalid_argument("parallel.zero: ZeroOptimizer runs stage 1 or 2, got " + std::to_string(options_.stage));
  }
  if (decay.size() != params_.size()) throw std::invalid_argument("ZeroOptimizer: one decay flag per parameter");
  const at::TensorOptions working = params_.front().options().requires_grad(false);
  const at::TensorOptions fp32 = working.dtype(at::kFloat);
  const int rank = group_.rank();

  // Move every parameter's storage into its bucket's flat buffer (padding stays zero).
  for (const ZeroBucket& spec : layout_.buckets()) {
    auto bucket = std::make_unique<Bucket>();
    bucket->params = at::zeros({spec.padded_numel}, working);
    if (options_.stage == 1) bucket->grads = at::zeros({spec.padded_numel}, working);
    bucket->size = spec.params.size();
    for (std::size_t i = 0; i < spec.params.size(); ++i) {
      at::Tensor& p = params_[spec.params[i]];
      at::Tensor view = bucket->params.narrow(0, spec.offsets[i], p.numel());
      view.copy_(p.detach().reshape({-1}));
      p.set_data(view.view(p.sizes()));
      if (options_.stage == 1) p.mutable_grad() = bucket->grads.narrow(0, spec.offsets[i], p.numel()).view(p.sizes());
    }
    buckets_.push_back(std::move(bucket));
  }
  for (const ShardSegment& piece : layout_.segmentsOf(rank)) {
    const std::size_t b = layout_.bucketOf(piece.param);
    const ZeroBucket& spec = layout_.buckets()[b];
    const bool in_norm = options_.counted_in_norm.empty() || options_.counted_in_norm.at(piece.param);
    segments_.push_back({b, piece.partition_offset - spec.partition_offset, piece.partition_offset, piece.numel,
                         static_cast<bool>(decay[piece.param]), in_norm});
  }

  const std::int64_t partition = layout_.partitionNumel();
  // fp32 working parameters (not offloaded, not rounded) are their own masters: updated in place.
  if (params_.front().scalar_type() != at::kFloat || options_.offload || options_.round_working_to) {
    masters_ = at::empty({partition}, fp32);
    for (std::size_t b = 0; b < buckets_.size(); ++b) masterShard(b).copy_(workingShard(b));
  }
  if (options_.round_working_to) {
    for (auto& bucket : buckets_) bucket->params.copy_(bucket->params.to(*options_.round_working_to));
  }
  exp_avg_ = at::zeros({partition}, fp32);
  exp_avg_sq_ = at::zeros({partition}, fp32);
  if (options_.stage == 2) grad_partition_ = at::zeros({partition}, fp32);
  if (options_.loss_scaling) scaler_.emplace(*options_.loss_scaling);

  if (options_.overlap) {
    ready_hooks_ = std::make_unique<GradientReadyHooks>(params_, [this](std::size_t k) { markReady(k); });
  }
}

// Members go in reverse order: the gradient-ready hooks (declared last) first, then each bucket's
// PendingWork (declared after its buffers), whose own destructor waits for a collective still in
// flight before the buffers it reads are freed.
ZeroOptimizer::~ZeroOptimizer() = default;

at::Tensor ZeroOptimizer::workingShard(std::size_t b) {
  const std::int64_t shard = layout_.buckets()[b].shard_numel;
  return buckets_[b]->params.narrow(0, group_.rank() * shard, shard);
}

at::Tensor ZeroOptimizer::bucketParameters(std::size_t b) { return buckets_[b]->params; }

at::Tensor ZeroOptimizer::masterShard(std::size_t b) {
  if (!masters_.defined()) return workingShard(b);
  const ZeroBucket& spec = layout_.buckets()[b];
  return masters_.narrow(0, spec.partition_offset, spec.shard_numel);
}

at::Tensor ZeroOptimizer::gradientShard(std::size_t b) {
  const ZeroBucket& spec = layout_.buckets()[b];
  if (options_.stage == 2) return grad_partition_.narrow(0, spec.partition_offset, spec.shard_numel);
  at::Tensor shard = buckets_[b]->grads.narrow(0, group_.rank() * spec.shard_numel, spec.shard_numel);
  return shard.scalar_type() == at::kFloat ? shard : shard.to(at::kFloat);
}

void ZeroOptimizer::zeroGrad() {
  if (options_.stage == 1) {
    for (auto& bucket : buckets_) bucket->grads.zero_();
  } else {
    for (auto& p : params_) p.mutable_grad().reset();
    grad_partition_.zero_();
  }
}

void ZeroOptimizer::beginBackward(bool reduce_after_this_backward) {
  reducing_ = reduce_after_this_backward;
  next_to_launch_ = 0;
  for (auto& bucket : buckets_) {
    bucket->pending = bucket->size;
    bucket->work.reset();
  }
}

void ZeroOptimizer::markReady(std::size_t param_index) {
  if (!reducing_) return;
  Bucket& bucket = *buckets_[layout_.bucketOf(param_index)];
  if (bucket.pending > 0) --bucket.pending;
  launchReadyBuckets();
}

void ZeroOptimizer::launchReadyBuckets() {
  // Strictly in bucket order, so every rank issues the same collectives in the same order.
  while (next_to_launch_ < buckets_.size() && buckets_[next_to_launch_]->pending == 0) {
    launch(next_to_launch_);
    ++next_to_launch_;
  }
}

void ZeroOptimizer::launch(std::size_t b) {
  if (b >= kMaxBucketsInFlight) complete(b - kMaxBucketsInFlight);
  Bucket& bucket = *buckets_[b];
  const ZeroBucket& spec = layout_.buckets()[b];
  if (options_.stage == 1) {
    // The full gradient stays (stage 1's memory cost) but only this rank's shard is reduced: it
    // is all its update reads, and the all-gather brings the rest of the parameters.
    if (group_.size() == 1) return;
    const at::Tensor source =
        bucket.grads.scalar_type() == options_.comm_dtype ? bucket.grads : bucket.grads.to(options_.comm_dtype);
    bucket.work.emplace(group_.reduceScatterAsync(source, 0, bucket.reduced));
    return;
  }
  // Stage 2: gather the bucket's gradients into one flat buffer, release them, and reduce-scatter
  // in the background; finishReduction keeps only this rank's shard.
  at::Tensor flat = at::zeros({spec.padded_numel}, bucket.params.options().dtype(options_.comm_dtype));
  for (std::size_t i = 0; i < spec.params.size(); ++i) {
    at::Tensor& p = params_[spec.params[i]];
    if (p.grad().defined()) flat.narrow(0, spec.offsets[i], p.numel()).copy_(p.grad().reshape({-1}));
    p.mutable_grad().reset();
  }
  if (group_.size() == 1) {
    grad_partition_.narrow(0, spec.partition_offset, spec.shard_numel).copy_(flat);
    return;
  }
  bucket.work.emplace(group_.reduceScatterAsync(flat, 0, bucket.reduced));
}

void ZeroOptimizer::finishReduction() {
  for (auto& bucket : buckets_) bucket->pending = 0;
  launchReadyBuckets();
  reducing_ = false;
  // Waited in launch order, the same on every rank.
  for (std::size_t b = 0; b < buckets_.size(); ++b) complete(b);
}

void ZeroOptimizer::complete(std::size_t b) {
  Bucket& bucket = *buckets_[b];
  if (!bucket.work) return;  // never launched (size-1 group) or already completed
  bucket.work->wait();
  bucket.work.reset();
  const ZeroBucket& spec = layout_.buckets()[b];
  at::Tensor shard = options_.stage == 2
                         ? grad_partition_.narrow(0, spec.partition_offset, spec.shard_numel)
                         : bucket.grads.narrow(0, group_.rank() * spec.shard_numel, spec.shard_numel);
  shard.copy_(bucket.reduced);
  bucket.reduced = at::Tensor();
  shard.mul_(1.0 / group_.size());
}

ZeroStepOutcome ZeroOptimizer::step(double lr, double max_norm) {
  ZeroStepOutcome outcome;
  outcome.loss_scale = lossScale();
  std::vector<at::Tensor> grads;
  for (std::size_t b = 0; b < buckets_.size(); ++b) grads.push_back(gradientShard(b));
  if (const auto& hook = zeroGradientHookForTesting()) hook(group_.rank(), calls_, grads.front());
  ++calls_;
  const double unscale = 1.0 / outcome.loss_scale;
  if (unscale != 1.0) {
    for (auto& g : grads) g.mul_(unscale);
  }

  // The global norm; non-finite on every rank as soon as any rank's shard holds inf/NaN.
  double squares = 0.0;
  if (options_.counted_in_norm.empty()) {
    for (const auto& g : grads) squares += sumOfSquares(g);
  } else {
    for (const Segment& s : segments_) {
      if (s.in_norm) squares += sumOfSquares(grads[s.bucket].narrow(0, s.shard_offset, s.numel));
    }
  }
  at::Tensor global = at::full({1}, squares, at::kDouble);
  if (group_.size() > 1) group_.allReduce(global, ReduceOp::Sum);
  if (options_.norm_group != nullptr && options_.norm_group->size() > 1) options_.norm_group->allReduce(global, ReduceOp::Sum);
  outcome.grad_norm = std::sqrt(global.item<double>());
  if (scaler_) {
    const bool overflow = !std::isfinite(outcome.grad_norm);
    scaler_->update(overflow);
    if (overflow) {
      outcome.skipped = true;
      return outcome;
    }
  }
  if (max_norm > 0.0 && outcome.grad_norm > max_norm) {
    const double coefficient = max_norm / (outcome.grad_norm + 1e-6);
    for (auto& g : grads) g.mul_(coefficient);
  }

  ++steps_;
  AdamWStep hyper;
  hyper.lr = lr;
  hyper.beta1 = options_.beta1;
  hyper.beta2 = options_.beta2;
  hyper.eps = options_.eps;
  hyper.step = steps_;
  std::vector<at::Tensor> masters;
  for (std::size_t b = 0; b < buckets_.size(); ++b) masters.push_back(masterShard(b));
  for (const Segment& s : segments_) {
    hyper.weight_decay = s.decay ? options_.weight_decay : 0.0;
    cpuAdamW(masters[s.bucket].data_ptr<float>() + s.shard_offset, grads[s.bucket].data_ptr<float>() + s.shard_offset,
             exp_avg_.data_ptr<float>() + s.partition_offset, exp_avg_sq_.data_ptr<float>() + s.partition_offset,
             s.numel, hyper);
  }
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    at::Tensor shard = workingShard(b);
    if (masters_.defined()) shard.copy_(masters[b]);
    if (options_.round_working_to) shard.copy_(shard.to(*options_.round_working_to));
    if (group_.size() > 1) buckets_[b]->params.copy_(group_.allGather(shard, 0));
  }
  return outcome;
}

std::int64_t ZeroOptimizer::hostStateBytes() const {
  return options_.offload ? bytesOf(masters_) + bytesOf(exp_avg_) + bytesOf(exp_avg_sq_) : 0;
}

std::int64_t ZeroOptimizer::stateBytes() const {
  std::int64_t bytes = bytesOf(masters_) + bytesOf(exp_avg_) + bytesOf(exp_avg_sq_) + bytesOf(grad_partition_);
  for (const auto& bucket : buckets_) bytes += bytesOf(bucket->params) + bytesOf(bucket->grads);
  return bytes;
}

}  // namespace behemoth
