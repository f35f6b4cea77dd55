// The step profiler: operators are classified by name, timed exclusively, and scopes attribute
// what runs inside them.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <chrono>
#include <thread>

#include "parallel/step_profile.h"

namespace behemoth {
namespace {

double of(const std::array<double, kOpKindCount>& seconds, OpKind kind) { return seconds[static_cast<int>(kind)]; }

TEST(StepProfile, ClassifiesOperatorsAndBackwardNodesByName) {
  EXPECT_EQ(classifyOperator("aten::addmm"), OpKind::matmul);
  EXPECT_EQ(classifyOperator("aten::mm"), OpKind::matmul);
  EXPECT_EQ(classifyOperator("AddmmBackward0"), OpKind::matmul);
  EXPECT_EQ(classifyOperator("MmBackward0"), OpKind::matmul);
  EXPECT_EQ(classifyOperator("aten::bmm"), OpKind::attention);
  EXPECT_EQ(classifyOperator("SoftmaxBackward0"), OpKind::attention);
  EXPECT_EQ(classifyOperator("aten::log_softmax"), OpKind::loss);
  EXPECT_EQ(classifyOperator("NllLossBackward0"), OpKind::loss);
  EXPECT_EQ(classifyOperator("aten::native_layer_norm"), OpKind::norm);
  EXPECT_EQ(classifyOperator("NativeLayerNormBackward0"), OpKind::norm);
  EXPECT_EQ(classifyOperator("GeluBackward0"), OpKind::activation);
  EXPECT_EQ(classifyOperator("aten::silu"), OpKind::activation);
  EXPECT_EQ(classifyOperator("aten::embedding"), OpKind::embedding);
  EXPECT_EQ(classifyOperator("aten::add_"), OpKind::elementwise);
  EXPECT_STREQ(opKindName(OpKind::communication), "communication");
}

TEST(StepProfile, TimesForwardAndBackwardOperatorsByKind) {
  const at::Tensor input = at::randn({64, 256});
  const at::Tensor weight = at::randn({256, 256}).requires_grad_(true);
  StepProfiler profiler;
  const at::Tensor hidden = at::gelu(at::mm(input, weight), "tanh");
  torch::autograd::backward({hidden.sum()});
  const auto seconds = profiler.take();
  EXPECT_GT(of(seconds, OpKind::matmul), 0.0);      // aten::mm forward, MmBackward0
  EXPECT_GT(of(seconds, OpKind::activation), 0.0);  // aten::gelu, GeluBackward0
  EXPECT_EQ(of(seconds, OpKind::communication), 0.0);
  EXPECT_EQ(of(seconds, OpKind::optimizer), 0.0);
  // take() starts the next interval from zero.
  const auto next = profiler.take();
  for (double value : next) EXPECT_EQ(value, 0.0);
}

TEST(StepProfile, ANestedScopeKeepsItsTimeFromTheOuterOne) {
  StepProfiler profiler;
  {
    const ProfileScope optimizer(OpKind::optimizer);
    const ProfileScope communication(OpKind::communication);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  const auto seconds = profiler.take();
  EXPECT_GE(of(seconds, OpKind::communication), 0.030);
  EXPECT_LT(of(seconds, OpKind::optimizer), of(seconds, OpKind::communication));
}

TEST(StepProfile, OperatorsInsideAScopeBelongToIt) {
  const at::Tensor a = at::randn({128, 128});
  StepProfiler profiler;
  {
    const ProfileScope attention(OpKind::attention);
    for (int k = 0; k < 4; ++k) (void)at::mm(a, a);
  }
  const auto seconds = profiler.take();
  EXPECT_GT(of(seconds, OpKind::attention), 0.0);
  EXPECT_EQ(of(seconds, OpKind::matmul), 0.0);
}

TEST(StepProfile, ScopesCostNothingWithoutAProfilerAndOneProfilerRunsAtATime) {
  EXPECT_FALSE(StepProfiler::active());
  { const ProfileScope idle(OpKind::norm); }
  StepProfiler profiler;
  EXPECT_TRUE(StepProfiler::active());
  EXPECT_THROW(StepProfiler second, std::logic_error);
}

}  // namespace
}  // namespace behemoth
