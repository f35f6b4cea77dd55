// Zero-bubble pipelines split a backward into the input gradients (what the previous stage waits
// for) and the weight gradients (which can wait, filling the pipeline's idle time). The linear
// layers of the models compute through deferrableLinear: in a process that enabled deferral, a
// backward run inside a DeferWeightGradients scope computes the input and bias gradients at once
// and queues each weight gradient; WeightGradientQueue::runAll computes and accumulates them later.
// Outside such a scope, or with deferral off (every schedule but zero_bubble), it is at::linear.
#pragma once

#include <ATen/Tensor.h>

#include <functional>
#include <vector>

namespace behemoth {

class WeightGradientQueue {
 public:
  void push(std::function<void()> compute) { pending_.push_back(std::move(compute)); }
  // Computes every queued weight gradient and adds it to its parameter's .grad, oldest first.
  void runAll();
  bool empty() const { return pending_.empty(); }

 private:
  std::vector<std::function<void()>> pending_;
};

// While alive, backward passes on this process queue their weight gradients in `queue`.
class DeferWeightGradients {
 public:
  explicit DeferWeightGradients(WeightGradientQueue& queue);
  ~DeferWeightGradients();
  DeferWeightGradients(const DeferWeightGradients&) = delete;
  DeferWeightGradients& operator=(const DeferWeightGradients&) = delete;

 private:
  WeightGradientQueue* previous_;
};

// Process-wide: whether deferrableLinear records its inputs for a deferrable weight gradient (the
// trainer turns it on for parallel.pp_schedule "zero_bubble").
void enableWeightGradientDeferral(bool enabled);

// input x weight^T + bias (bias may be undefined), as at::linear.
at::Tensor deferrableLinear(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias);

}  // namespace behemoth
