// Data parallelism: gradients are reduced over the dp group in buckets, each launched as soon as
// every gradient in it is final, so communication overlaps the rest of backward (as PyTorch DDP).
//
// How: each parameter's .grad is a view into its bucket's flat buffer, so autograd accumulates
// straight into the buffer and a bucket is one contiguous all-reduce. A post-hook on each
// parameter's gradient accumulator marks it ready; buckets launch strictly in index order so every
// rank issues the same collectives in the same order.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "parallel/gradient_ready_hooks.h"
#include "parallel/group.h"

namespace behemoth {

class GradientBuckets {
 public:
  // `params` in model order; buckets fill in reverse order (the order backward produces them).
  // `reduce_dtype`: the dtype buckets travel in (parallel.reduce_dtype); unset: their own dtype.
  // A different dtype costs one conversion each way and a staging buffer per bucket in flight.
  GradientBuckets(std::vector<at::Tensor> params, Group& dp_group, std::int64_t bucket_bytes, bool overlap,
                  std::optional<at::ScalarType> reduce_dtype = std::nullopt);
  ~GradientBuckets();
  GradientBuckets(const GradientBuckets&) = delete;
  GradientBuckets& operator=(const GradientBuckets&) = delete;

  // Zeroes every gradient buffer (the grads stay views into the buckets).
  void zeroGrad();
  // Call before each micro-batch's backward; reductions happen only after the last one.
  void beginBackward(bool reduce_after_this_backward);
  // After backward: launches what has not started, waits for every bucket, averages over dp.
  void finishReduction();

  std::size_t bucketCount() const { return buckets_.size(); }
  // Bytes of every gradient buffer as it is reduced (what one all-reduce per step moves).
  std::int64_t gradientBytes() const;

 private:
  struct Bucket;
  void markReady(std::size_t param_index);
  void launchReadyBuckets();

  std::vector<at::Tensor> params_;
  Group& group_;
  bool overlap_;
  std::optional<at::ScalarType> reduce_dtype_;
  bool reducing_ = false;
  std::vector<std::unique_ptr<Bucket>> buckets_;
  std::vector<std::size_t> bucket_of_param_;
  std::size_t next_to_launch_ = 0;
  std::unique_ptr<GradientReadyHooks> ready_hooks_;  // only when overlapping
};

}  // namespace behemoth
