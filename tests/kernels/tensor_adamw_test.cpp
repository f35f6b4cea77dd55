// The device's AdamW (tensor ops) and the CPU kernel give torch's result for the same steps.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "kernels/cpu_adamw.h"
#include "kernels/tensor_adamw.h"

namespace behemoth {
namespace {

TEST(TensorAdamW, MatchesTheCpuKernelOverSeveralSteps) {
  at::manual_seed(7);
  const at::Tensor start = at::randn({1000});
  at::Tensor p1 = start.clone(), m1 = at::zeros({1000}), v1 = at::zeros({1000});
  at::Tensor p2 = start.clone(), m2 = at::zeros({1000}), v2 = at::zeros({1000});
  AdamWStep hyper;
  hyper.lr = 1e-2;
  hyper.weight_decay = 0.1;
  for (int step = 1; step <= 5; ++step) {
    const at::Tensor grad = at::randn({1000});
    hyper.step = step;
    tensorAdamW(p1, grad, m1, v1, hyper);
    cpuAdamW(p2, grad, m2, v2, hyper);
  }
  EXPECT_GT((p1 - start).abs().max().item<float>(), 1e-3f);  // it moved
  EXPECT_LE((p1 - p2).abs().max().item<float>(), 1e-6f);
  EXPECT_LE((v1 - v2).abs().max().item<float>(), 1e-6f);
}

}  // namespace
}  // namespace behemoth
