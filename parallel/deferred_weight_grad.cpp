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

// y = x W^T + b whose backward can leave dL/dW for later.
struct DeferrableLinearFunction : public torch::autograd::Function<DeferrableLinearFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input, const at::Tensor& weight,
                            const at::Tensor& bias) {
    ctx->save_for_backward({input});
    // The parameter itself (a leaf), so a deferred gradient lands in its .grad.
    ctx->saved_data["weight"] = weight;
    ctx->saved_data["has_bias"] = bias.defined();
    return at::linear(input, weight, bias);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const at::Tensor input = ctx->get_saved_variables()[0];
    at::Tensor weight = ctx->saved_data["weight"].toTensor();
    const at::Tensor grad = grads[0];
    const at::Tensor grad_input = at::matmul(grad, weight);
    const at::Tensor flat_grad = grad.reshape({-1, grad.size(-1)});
    const at::Tensor grad_bias = ctx->saved_data["has_bias"].toBool() ? flat_grad.sum(0) : at::Tensor();
    const auto weightGradient = [flat_grad, input]() {
      return flat_grad.t().mm(input.reshape({-1, input.size(-1)}));
    };
    // A parameter with tensor hooks (a partial gradient summed over tp) must go through autograd.
    const bool hooked = !torch::autograd::impl::hooks(weight).empty();
    if (active_queue != nullptr && !hooked && weight.requires_grad()) {
      active_queue->push([weight, weightGradient]() mutable {
        at::NoGradGuard no_grad;
        accumulateGradient(weight, weightGradient());
      });
      return {grad_input, at::Tensor(), grad_bias};
    }
    return {grad_input, weight.requires_grad() ? weightGradient() : at::Tensor(), grad_bias};
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
  return DeferrableLinearFunction::apply(input, weight, bias);
}

}  // namespace behemoth
