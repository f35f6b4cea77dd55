#include "parallel/gradient_ready_hooks.h"

#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

namespace behemoth {

namespace {

class AfterAccumulateHook : public torch::autograd::FunctionPostHook {
 public:
  explicit AfterAccumulateHook(std::function<void()> callback) : callback_(std::move(callback)) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    callback_();
    return outputs;
  }

 private:
  std::function<void()> callback_;
};

}  // namespace

GradientReadyHooks::GradientReadyHooks(const std::vector<at::Tensor>& params, std::function<void(std::size_t)> on_ready) {
  for (std::size_t k = 0; k < params.size(); ++k) {
    auto accumulator = torch::autograd::impl::grad_accumulator(params[k]);
    const std::uintptr_t key =
        accumulator->add_post_hook(std::make_unique<AfterAccumulateHook>([on_ready, k] { on_ready(k); }));
    hooks_.emplace_back(std::move(accumulator), key);
  }
}

GradientReadyHooks::~GradientReadyHooks() {
  for (auto& [accumulator, key] : hooks_) accumulator->del_post_hook(key);
}

}  // namespace behemoth
