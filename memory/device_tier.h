// The device tier's allocator: every byte ZeRO-3 places "on the device" (parameter and optimizer
// shards placed there, gathered chunks) is allocated through it, so the tier's bytes and peak are
// counted exactly and separately from everything else. On a CPU-only machine the "device" is this
// budgeted pool of host memory, which makes placement, eviction and the budget testable here; a
// GPU build would wrap the CUDA allocator the same way.
//
// The pool does not refuse an allocation itself: the runtime checks the budget before it gathers
// or prefetches (with the non-model memory beside it) and names the figures when it cannot fit.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Allocator.h>

#include <atomic>
#include <cstdint>
#include <memory>

namespace behemoth {

class DeviceTier {
 public:
  DeviceTier();
  ~DeviceTier();
  DeviceTier(const DeviceTier&) = delete;
  DeviceTier& operator=(const DeviceTier&) = delete;

  // Bytes allocated through the tier and still alive; the most since construction or resetPeak().
  std::int64_t liveBytes() const;
  std::int64_t peakBytes() const;
  void resetPeak();

  // A 1-D tensor of `numel` elements of `dtype` in the tier (contents undefined).
  at::Tensor empty(std::int64_t numel, at::ScalarType dtype) const;
  // Storage that can be released and allocated again while tensors keep viewing it: ZeRO-3 frees a
  // gathered chunk's bytes after use while autograd still holds the parameters that view it.
  void release(const at::Tensor& tensor) const;
  void reallocate(const at::Tensor& tensor, std::int64_t bytes) const;
  static bool holdsBytes(const at::Tensor& tensor);

  c10::Allocator& allocator() const;

  struct Counters;  // shared with the allocations, which may outlive the tier

 private:
  class Allocator;
  std::shared_ptr<Counters> counters_;
  std::unique_ptr<Allocator> allocator_;
};

}  // namespace behemoth
