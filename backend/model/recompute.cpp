#include "backend/model/recompute.h"

#include <ATen/core/ivalue.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include <utility>

namespace behemoth {

namespace {

// The region travels to backward in the node's saved data, which holds only IValues.
struct RegionCapsule : torch::CustomClassHolder {
  explicit RegionCapsule(RecomputedRegion r) : region(std::move(r)) {}
  RecomputedRegion region;
};

// forward: the region without grad (autograd's custom-function apply already disables it), so
// nothing inside it is saved; only the inputs are. backward: the region again, with grad, on
// detached copies of the inputs; its outputs are back-propagated with the incoming gradients,
// which fills the copies' .grad (returned) and accumulates every parameter's gradient inside the
// region through its own AccumulateGrad node (gradient-ready hooks fire as without recomputation).
class RecomputeFunction : public torch::autograd::Function<RecomputeFunction> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* context,
                                                const RecomputedRegion& region, const at::TensorList& inputs) {
    context->saved_data["region"] = at::IValue::make_capsule(c10::make_intrusive<RegionCapsule>(region));
    context->save_for_backward(inputs.vec());
    return region(inputs.vec());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list output_grads) {
    const auto capsule = context->saved_data.at("region").toCapsule();
    const RecomputedRegion& region = static_cast<const RegionCapsule*>(capsule.get())->region;
    std::vector<at::Tensor> detached;
    for (const at::Tensor& input : context->get_saved_variables()) {
      at::Tensor copy = input.detach();
      if (input.requires_grad()) copy.requires_grad_(true);
      detached.push_back(std::move(copy));
    }
    std::vector<at::Tensor> outputs;
    {
      const c10::AutoGradMode grad_on(true);
      outputs = region(detached);
    }
    std::vector<at::Tensor> roots;
    std::vector<at::Tensor> root_grads;
    for (std::size_t k = 0; k < outputs.size() && k < output_grads.size(); ++k) {
      if (!outputs[k].requires_grad()) continue;
      // Gradients are materialized (zeros for an unused output); an undefined one is skipped too.
      if (!output_grads[k].defined()) continue;
      roots.push_back(outputs[k]);
      root_grads.push_back(output_grads[k]);
    }
    if (!roots.empty()) torch::autograd::backward(roots, root_grads);
    // One gradient per forward argument: none for the region itself, then one per input.
    torch::autograd::variable_list input_grads{at::Tensor()};
    for (const at::Tensor& copy : detached) input_grads.push_back(copy.requires_grad() ? copy.grad() : at::Tensor());
    return input_grads;
  }
};

bool anyRequiresGrad(const std::vector<at::Tensor>& tensors) {
  for (const at::Tensor& tensor : tensors) {
    if (tensor.defined() && tensor.requires_grad()) return true;
  }
  return false;
}

}  // namespace

std::vector<at::Tensor> recomputeInBackward(const RecomputedRegion& region, const std::vector<at::Tensor>& inputs) {
  // Evaluation keeps nothing anyway. Without an input that requires grad autograd would attach no
  // node, and parameters inside the region would get no gradient: run it plainly (nothing saved
  // is dropped then, but the gradients stay right).
  if (!c10::GradMode::is_enabled() || !anyRequiresGrad(inputs)) return region(inputs);
  return RecomputeFunction::apply(region, at::TensorList(inputs));
}

}  // namespace behemoth
