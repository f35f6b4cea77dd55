#include "backend/model/fused_ops.h"

#include <torch/csrc/autograd/custom_function.h>

#include <ATen/core/grad_mode.h>

#include "kernels/fused_cross_entropy.h"
#include "kernels/fused_gelu.h"
#include "kernels/fused_rotary.h"
#include "kernels/fused_swiglu.h"
#include "parallel/step_profile.h"

namespace behemoth {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// LibTorch's custom functions take no undefined inputs: an absent bias travels as an empty tensor.
at::Tensor present(const at::Tensor& optional) { return optional.defined() ? optional : at::empty({0}); }
at::Tensor absentIfEmpty(const at::Tensor& t) { return t.numel() == 0 ? at::Tensor() : t; }

// The autograd node is named after the class: "FusedGeluBackward" (the step profile's activation).
struct FusedGelu : torch::autograd::Function<FusedGelu> {
  static at::Tensor forward(AutogradContext* context, const at::Tensor& x, const at::Tensor& bias) {
    context->save_for_backward({x, bias});
    return geluTanhForward(x, absentIfEmpty(bias));
  }
  static variable_list backward(AutogradContext* context, variable_list grads) {
    const auto saved = context->get_saved_variables();
    auto [grad_x, grad_bias] = geluTanhBackward(grads[0], saved[0], absentIfEmpty(saved[1]));
    return {grad_x, grad_bias};
  }
};

struct FusedSwiglu : torch::autograd::Function<FusedSwiglu> {
  static at::Tensor forward(AutogradContext* context, const at::Tensor& gate, const at::Tensor& up) {
    context->save_for_backward({gate, up});
    return swigluForward(gate, up);
  }
  static variable_list backward(AutogradContext* context, variable_list grads) {
    const auto saved = context->get_saved_variables();
    auto [grad_gate, grad_up] = swigluBackward(grads[0], saved[0], saved[1]);
    return {grad_gate, grad_up};
  }
};

// Saved for a norm's backward: the sum it normalized and the row statistics.
void saveNorm(AutogradContext* context, NormKind kind, const NormForward& forward, const at::Tensor& weight,
              const at::Tensor& bias) {
  context->save_for_backward({forward.sum, present(forward.mean), forward.rstd, weight, present(bias)});
  context->saved_data["kind"] = static_cast<std::int64_t>(kind);
}

NormGradients normGradients(AutogradContext* context, const at::Tensor& grad_output, const at::Tensor& grad_sum) {
  const auto saved = context->get_saved_variables();
  NormForward forward;
  forward.sum = saved[0];
  forward.mean = absentIfEmpty(saved[1]);
  forward.rstd = saved[2];
  const auto kind = static_cast<NormKind>(context->saved_data["kind"].toInt());
  const at::Tensor output_grad = grad_output.defined() ? grad_output : at::zeros_like(forward.sum);
  return fusedNormBackward(kind, output_grad, grad_sum, forward, saved[3], absentIfEmpty(saved[4]));
}

// Named so that the step profile counts it as a norm ("...NormBackward").
struct FusedNorm : torch::autograd::Function<FusedNorm> {
  static at::Tensor forward(AutogradContext* context, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                            std::int64_t kind, double eps) {
    const NormForward result = fusedNormForward(static_cast<NormKind>(kind), x, {}, weight, absentIfEmpty(bias), eps);
    saveNorm(context, static_cast<NormKind>(kind), result, weight, absentIfEmpty(bias));
    return result.output;
  }
  static variable_list backward(AutogradContext* context, variable_list grads) {
    const NormGradients g = normGradients(context, grads[0], {});
    return {g.sum, g.weight, g.bias, at::Tensor(), at::Tensor()};
  }
};

struct FusedAddNorm : torch::autograd::Function<FusedAddNorm> {
  static variable_list forward(AutogradContext* context, const at::Tensor& x, const at::Tensor& residual,
                               const at::Tensor& weight, const at::Tensor& bias, std::int64_t kind, double eps) {
    const NormForward result = fusedNormForward(static_cast<NormKind>(kind), x, residual, weight, absentIfEmpty(bias), eps);
    saveNorm(context, static_cast<NormKind>(kind), result, weight, absentIfEmpty(bias));
    return {result.sum, result.output};
  }
  static variable_list backward(AutogradContext* context, variable_list grads) {
    const NormGradients g = normGradients(context, grads[1], grads[0]);
    return {g.sum, g.sum, g.weight, g.bias, at::Tensor(), at::Tensor()};
  }
};

// Keeps only the tables: the rotation's transpose needs nothing of x.
struct FusedRotary : torch::autograd::Function<FusedRotary> {
  static at::Tensor forward(AutogradContext* context, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
    context->save_for_backward({cos, sin});
    return rotaryForward(x, cos, sin);
  }
  static variable_list backward(AutogradContext* context, variable_list grads) {
    const auto saved = context->get_saved_variables();
    return {rotaryBackward(grads[0], saved[0], saved[1]), at::Tensor(), at::Tensor()};
  }
};

// Keeps the logits and one log-sum-exp per row, where ATen keeps the log-probabilities.
// Not "...Softmax...": the step profile would count it as attention.
struct FusedCrossEntropy : torch::autograd::Function<FusedCrossEntropy> {
  static at::Tensor forward(AutogradContext* context, const at::Tensor& logits, const at::Tensor& targets) {
    CrossEntropyForward result = softmaxCrossEntropyForward(logits, targets);
    context->save_for_backward({logits, targets, result.logsumexp});
    context->saved_data["counted"] = result.counted;
    return result.loss;
  }
  static variable_list backward(AutogradContext* context, variable_list grads) {
    const auto saved = context->get_saved_variables();
    const std::int64_t counted = context->saved_data["counted"].toInt();
    return {softmaxCrossEntropyBackward(grads[0], saved[0], saved[1], saved[2], counted), at::Tensor()};
  }
};

}  // namespace

bool fusedKernelsTake(const at::Tensor& t) {
  return t.device().is_cpu() && (t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16);
}

// The forward kernels are no ATen operators: each call is marked for the step profile.
at::Tensor fusedGelu(const at::Tensor& x, const at::Tensor& bias) {
  const ProfileScope profile(OpKind::activation);
  return FusedGelu::apply(x, present(bias));
}

at::Tensor fusedSwiglu(const at::Tensor& gate, const at::Tensor& up) {
  const ProfileScope profile(OpKind::activation);
  return FusedSwiglu::apply(gate, up);
}

at::Tensor fusedNorm(NormKind kind, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps) {
  const ProfileScope profile(OpKind::norm);
  return FusedNorm::apply(x, weight, present(bias), static_cast<std::int64_t>(kind), eps);
}

std::pair<at::Tensor, at::Tensor> fusedAddNorm(NormKind kind, const at::Tensor& x, const at::Tensor& residual,
                                               const at::Tensor& weight, const at::Tensor& bias, double eps) {
  const ProfileScope profile(OpKind::norm);
  const variable_list outputs = FusedAddNorm::apply(x, residual, weight, present(bias), static_cast<std::int64_t>(kind), eps);
  return {outputs[0], outputs[1]};
}

at::Tensor fusedRotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const ProfileScope profile(OpKind::elementwise);
  if (!at::GradMode::is_enabled()) {
    at::Tensor rotated = x;
    rotaryInPlace(rotated, cos, sin);
    return rotated;
  }
  return FusedRotary::apply(x, cos, sin);
}

at::Tensor fusedCrossEntropy(const at::Tensor& logits, const at::Tensor& targets) {
  const ProfileScope profile(OpKind::loss);
  return FusedCrossEntropy::apply(logits, targets);
}

}  // namespace behemoth
