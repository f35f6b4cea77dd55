#include "parallel/gradient_buckets.h"

#include <functional>
#include <optional>
#include <stdexcept>

namespace behemoth {

struct GradientBuckets::Bucket {
  at::Tensor flat;
  at::Tensor staging;  // `flat` converted to the reduce dtype while its all-reduce is in flight
  std::size_t pending = 0;  // params not yet final in the current backward
  std::size_t size = 0;     // params in the bucket
  std::optional<PendingWork> work;
};

GradientBuckets::GradientBuckets(std::vector<at::Tensor> params, Group& dp_group, std::int64_t bucket_bytes,
                                 bool overlap, std::optional<at::ScalarType> reduce_dtype)
    : params_(std::move(params)),
      group_(dp_group),
      overlap_(overlap),
      reduce_dtype_(reduce_dtype),
      bucket_of_param_(params_.size()) {
  // Group params in reverse order into buckets of about bucket_bytes, one dtype per bucket.
  std::vector<std::vector<std::size_t>> members;
  std::int64_t filled = 0;
  for (std::size_t k = params_.size(); k-- > 0;) {
    const at::Tensor& p = params_[k];
    if (!p.requires_grad()) throw std::invalid_argument("GradientBuckets: parameter " + std::to_string(k) + " does not require grad");
    const bool dtype_changes = !members.empty() && params_[members.back().front()].scalar_type() != p.scalar_type();
    if (members.empty() || filled >= bucket_bytes || dtype_changes) {
      members.emplace_back();
      filled = 0;
    }
    members.back().push_back(k);
    filled += p.numel() * static_cast<std::int64_t>(p.element_size());
  }
  for (const auto& indices : members) {
    auto bucket = std::make_unique<Bucket>();
    std::int64_t numel = 0;
    for (std::size_t k : indices) numel += params_[k].numel();
    bucket->flat = at::zeros({numel}, params_[indices.front()].options().requires_grad(false));
    bucket->size = indices.size();
    std::int64_t offset = 0;
    for (std::size_t k : indices) {
      at::Tensor& p = params_[k];
      p.mutable_grad() = bucket->flat.narrow(0, offset, p.numel()).view(p.sizes());
      offset += p.numel();
      bucket_of_param_[k] = buckets_.size();
    }
    buckets_.push_back(std::move(bucket));
  }
  if (overlap_ && group_.size() > 1) {
    ready_hooks_ = std::make_unique<GradientReadyHooks>(params_, [this](std::size_t k) { markReady(k); });
  }
}

// Members go in reverse order: the gradient-ready hooks (declared last) first, then each bucket's
// PendingWork (declared after its buffers), whose own destructor waits for a collective still in
// flight before the buffers it reads are freed.
GradientBuckets::~GradientBuckets() = default;

void GradientBuckets::zeroGrad() {
  for (auto& bucket : buckets_) bucket->flat.zero_();
}

void GradientBuckets::beginBackward(bool reduce_after_this_backward) {
  reducing_ = reduce_after_this_backward;
  next_to_launch_ = 0;
  for (auto& bucket : buckets_) {
    bucket->pending = bucket->size;
    bucket->work.reset();
  }
}

void GradientBuckets::markReady(std::size_t param_index) {
  if (!reducing_) return;
  Bucket& bucket = *buckets_[bucket_of_param_[param_index]];
  if (bucket.pending > 0) --bucket.pending;
  launchReadyBuckets();
}

void GradientBuckets::launchReadyBuckets() {
  while (next_to_launch_ < buckets_.size() && buckets_[next_to_launch_]->pending == 0) {
    Bucket& bucket = *buckets_[next_to_launch_];
    const bool convert = reduce_dtype_ && *reduce_dtype_ != bucket.flat.scalar_type();
    bucket.staging = convert ? bucket.flat.to(*reduce_dtype_) : bucket.flat;
    // Averaged inside the reduction: a 2-byte dtype divides in fp32 before its one rounding.
    bucket.work.emplace(group_.allReduceAsync(bucket.staging, ReduceOp::Avg));
    ++next_to_launch_;
  }
}

void GradientBuckets::finishReduction() {
  if (group_.size() == 1) return;
  // Buckets whose hooks did not fire (no overlap, or a parameter unused this step) launch now.
  for (auto& bucket : buckets_) bucket->pending = 0;
  launchReadyBuckets();
  for (auto& bucket : buckets_) {
    bucket->work->wait();
    bucket->work.reset();
    if (!bucket->staging.is_same(bucket->flat)) bucket->flat.copy_(bucket->staging);
    bucket->staging = at::Tensor();
  }
  reducing_ = false;
}

std::int64_t GradientBuckets::gradientBytes() const {
  std::int64_t bytes = 0;
  for (const auto& bucket : buckets_) {
    const std::int64_t element = reduce_dtype_ ? c10::elementSize(*reduce_dtype_) : bucket->flat.element_size();
    bytes += bucket->flat.numel() * element;
  }
  return bytes;
}

}  // namespace behemoth
