// The CPU AdamW must compute what torch's AdamW computes on the same tensors.
#include <gtest/gtest.h>
#include <torch/optim/adamw.h>

#include <ATen/Parallel.h>

#include "kernels/cpu_adamw.h"

namespace behemoth {
namespace {

struct Case {
  double weight_decay;
  int threads;
};

class CpuAdamW : public testing::TestWithParam<Case> {};

TEST_P(CpuAdamW, MatchesTorchAdamWOverSeveralSteps) {
  const Case c = GetParam();
  at::set_num_threads(c.threads);
  at::manual_seed(7);
  const std::int64_t n = 100003;  // not a multiple of any vector width or chunk size
  at::Tensor reference = at::randn({n});
  reference.set_requires_grad(true);
  at::Tensor mine = reference.detach().clone();
  at::Tensor exp_avg = at::zeros({n});
  at::Tensor exp_avg_sq = at::zeros({n});
  const double lr = 3e-3;
  torch::optim::AdamW optimizer({reference},
                                torch::optim::AdamWOptions(lr).betas({0.9, 0.95}).eps(1e-8).weight_decay(c.weight_decay));
  for (int step = 1; step <= 5; ++step) {
    // Gradients spanning many magnitudes, some exactly zero.
    at::Tensor grad = at::randn({n}) * at::pow(10.0, at::randint(-6, 2, {n}).to(at::kFloat));
    grad.narrow(0, 0, 100).zero_();
    reference.mutable_grad() = grad.clone();
    optimizer.step();
    AdamWStep hyper;
    hyper.lr = lr;
    hyper.beta1 = 0.9;
    hyper.beta2 = 0.95;
    hyper.eps = 1e-8;
    hyper.weight_decay = c.weight_decay;
    hyper.step = step;
    cpuAdamW(mine, grad, exp_avg, exp_avg_sq, hyper);
    const double scale = reference.detach().abs().max().item<double>();
    const double diff = (reference.detach() - mine).abs().max().item<double>();
    // Same float operations in the same order: at most a rounding or two of the largest value.
    EXPECT_LE(diff, 4 * 1.2e-7 * scale) << "step " << step;
  }
  ASSERT_EQ(optimizer.state().size(), 1u);
  const auto& state = static_cast<const torch::optim::AdamWParamState&>(*optimizer.state().begin()->second);
  // Moments: an element where 0.9*m and 0.1*g nearly cancel has a large relative rounding error
  // whichever order the operations run in, so the bound is a few roundings of the largest value.
  for (const auto& [theirs, ours] : {std::make_pair(state.exp_avg(), exp_avg), std::make_pair(state.exp_avg_sq(), exp_avg_sq)}) {
    const double scale = theirs.abs().max().item<double>();
    EXPECT_LE((theirs - ours).abs().max().item<double>(), 4 * 1.2e-7 * scale);
  }
  at::set_num_threads(1);
}

INSTANTIATE_TEST_SUITE_P(DecayAndThreads, CpuAdamW,
                         testing::Values(Case{0.0, 1}, Case{0.1, 1}, Case{0.1, 2}),
                         [](const testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.weight_decay > 0 ? "decay" : "no_decay") + "_threads" +
                                  std::to_string(info.param.threads);
                         });

TEST(CpuAdamWErrors, RejectsMismatchedTensorsByName) {
  at::Tensor p = at::zeros({4});
  at::Tensor m = at::zeros({4});
  at::Tensor v = at::zeros({4});
  at::Tensor short_grad = at::zeros({3});
  at::Tensor double_grad = at::zeros({4}, at::kDouble);
  EXPECT_THROW(cpuAdamW(p, short_grad, m, v, AdamWStep{}), std::invalid_argument);
  try {
    cpuAdamW(p, double_grad, m, v, AdamWStep{});
    FAIL() << "a double gradient was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("grads"), std::string::npos) << error.what();
  }
  AdamWStep zero_step;
  zero_step.step = 0;
  at::Tensor g = at::zeros({4});
  EXPECT_THROW(cpuAdamW(p, g, m, v, zero_step), std::invalid_argument);
}

}  // namespace
}  // namespace behemoth
