// Calls back when a parameter's gradient for this backward is final: a post-hook on each
// parameter's gradient accumulator (it runs right after autograd added the new gradient into
// .grad). What bucketed reductions use to start communicating while backward goes on.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/csrc/autograd/function.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace behemoth {

class GradientReadyHooks {
 public:
  // `on_ready(k)` runs after params[k]'s gradient has been accumulated. The hooks are removed
  // again when this object is destroyed.
  GradientReadyHooks(const std::vector<at::Tensor>& params, std::function<void(std::size_t)> on_ready);
  ~GradientReadyHooks();
  GradientReadyHooks(const GradientReadyHooks&) = delete;
  GradientReadyHooks& operator=(const GradientReadyHooks&) = delete;

 private:
  // The accumulators are held so they outlive the hooks living on them.
  std::vector<std::pair<std::shared_ptr<torch::autograd::Node>, std::uintptr_t>> hooks_;
};

}  // namespace behemoth
