#include "parallel/deferred_weight_grad.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/variable.h>

#include <atomic>

namespace behemoth {
namespace {

// The autograd engine runs a CPU backward on the thread that called it; the executor is that thread.
WeightGradientQueue* active_queue = nullptr;
std::atomic<bool> deferral_enabled{false};

void accumulateGradient(at::Tensor& parameter, const at::Tensor& gradient) {
  at::Tensor& grad = parameter.mutable_grad();
  if (grad.defined()) {
    grad.add_(gradient);
  } else {
    grad = gradient;
  }
}

// y = x W^T whose backward can leave dL/dW for later. (A bias is added outside it: autograd
// functions take no undefined inputs, and the bias gradient is cheap, computed at once.)
struct DeferrableMatmulFunction : public torch::autograd::Function<DeferrableMatmulFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input, const at::Tensor& weight) {
    ctx->save_for_backward({input});
    // The parameter itself (a leaf), so a deferred gradient lands in its .grad.
    ctx->saved_data["weight"] = weight;
    return at::linear(input, weight);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const at::Tensor input = ctx->get_saved_variables()[0];
    at::Tensor weight = ctx->saved_data["weight"].toTensor();
    const at::Tensor grad = grads[0];
    const at::Tensor grad_input = at::matmul(grad, weight);
    const at::Tensor flat_grad = grad.reshape({-1, grad.size(-1)});
    const auto weightGradient = [flat_grad, input]() {
      return flat_grad.t().mm(input.reshape({-1, input.size(-1)}));
    };
    // A parameter with tensor hooks (a partial gradient summed over tp) must go through autograd.
    const bool hooked = !torch::autograd::impl::hooks(weight).empty();
    if (active_queue != nullptr && !hooked) {
      active_queue->push([weight, weightGradient]() mutable {
        at::NoGradGuard no_grad;
        accumulateGradient(weight, weightGradient());
      });
      return {grad_input, at::Tensor()};
    }
    return {grad_input, weightGradient()};
  }
};

}  // namespace

void WeightGradientQueue::runAll() {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& compute : pending) compute();
}

DeferWeightGradients::DeferWeightGradients(WeightGradientQueue& queue) : previous_(active_queue) { active_queue = &queue; }

DeferWeightGradients::~DeferWeightGradients() { active_queue = previous_; }

void enableWeightGradientDeferral(bool enabled) { deferral_enabled = enabled; }

at::Tensor deferrableLinear(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias) {
  if (!deferral_enabled || !at::GradMode::is_enabled() || !weight.requires_grad()) return at::linear(input, weight, bias);
  const at::Tensor product = DeferrableMatmulFunction::apply(input, weight);
  return bias.defined() ? product + bias : product;
}

}  // namespace behemoth
