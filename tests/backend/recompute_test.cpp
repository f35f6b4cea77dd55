// recomputeInBackward against plain autograd: the same outputs, the same input and parameter
// gradients, the region run twice (forward, then again in backward), nothing inside the region kept
// between forward and backward, gradient-ready hooks firing on the parameters it uses, and the
// cases where it must not attach a node (evaluation, no input that requires grad). The models'
// recomputation keeps the dropout of its forward even when the model moved on to another
// micro-batch before the backward (as a pipeline schedule does).
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/generated/variable_factories.h>
#include <torch/utils.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backend/metrics/tensor_memory.h"
#include "backend/model/language_model.h"
#include "backend/model/recompute.h"
#include "parallel/gradient_ready_hooks.h"
#include "tests/support/multiprocess.h"

namespace behemoth {
namespace {

// A region with a parameter, a float input that requires grad and an int64 input (indices) that
// cannot, two outputs of which the second is a plain function of the float input alone.
struct Fixture {
  at::Tensor weight = torch::randn({6, 5}, at::TensorOptions().dtype(at::kDouble)).requires_grad_(true);
  at::Tensor x = torch::randn({4, 6}, at::TensorOptions().dtype(at::kDouble)).requires_grad_(true);
  at::Tensor rows = at::tensor({2, 0, 3}, at::kLong);
  int runs = 0;

  RecomputedRegion region() {
    return [this](const std::vector<at::Tensor>& in) {
      ++runs;
      const at::Tensor hidden = at::tanh(at::matmul(in[0], weight));
      const at::Tensor picked = hidden.index_select(0, in[1]).exp();
      return std::vector<at::Tensor>{picked, (in[0] * in[0]).sin()};
    };
  }
};

at::Tensor lossOf(const std::vector<at::Tensor>& outputs, bool use_second) {
  at::Tensor loss = (outputs[0] * outputs[0]).sum();
  if (use_second) loss = loss + outputs[1].sum() * 0.5;
  return loss;
}

void expectSameGradientsAsPlainAutograd(bool use_second) {
  Fixture plain;
  Fixture recomputed;
  recomputed.weight = plain.weight.detach().clone().requires_grad_(true);
  recomputed.x = plain.x.detach().clone().requires_grad_(true);

  const std::vector<at::Tensor> expected = plain.region()({plain.x, plain.rows});
  lossOf(expected, use_second).backward();
  const std::vector<at::Tensor> outputs = recomputeInBackward(recomputed.region(), {recomputed.x, recomputed.rows});
  ASSERT_EQ(outputs.size(), 2u);
  ASSERT_TRUE(outputs[0].requires_grad());
  EXPECT_EQ(recomputed.runs, 1) << "forward runs the region once";
  EXPECT_TRUE(at::equal(outputs[0], expected[0]));
  EXPECT_TRUE(at::equal(outputs[1], expected[1]));
  lossOf(outputs, use_second).backward();

  EXPECT_EQ(plain.runs, 1);
  EXPECT_EQ(recomputed.runs, 2) << "backward runs the region again";
  ASSERT_TRUE(recomputed.x.grad().defined());
  ASSERT_TRUE(recomputed.weight.grad().defined());
  EXPECT_TRUE(at::allclose(recomputed.x.grad(), plain.x.grad(), 1e-12, 1e-12));
  EXPECT_TRUE(at::allclose(recomputed.weight.grad(), plain.weight.grad(), 1e-12, 1e-12));
  EXPECT_FALSE(recomputed.rows.grad().defined());
}

TEST(RecomputeInBackward, MatchesPlainAutogradAndRunsTheRegionTwice) { expectSameGradientsAsPlainAutograd(true); }

TEST(RecomputeInBackward, AnOutputWithoutGradientCountsAsZero) {
  // The loss ignores the second output: its incoming gradient is undefined.
  expectSameGradientsAsPlainAutograd(false);
}

TEST(RecomputeInBackward, GradientsAccumulateOntoExistingOnes) {
  Fixture plain;
  Fixture recomputed;
  recomputed.weight = plain.weight.detach().clone().requires_grad_(true);
  recomputed.x = plain.x.detach().clone().requires_grad_(true);
  for (int pass = 0; pass < 2; ++pass) {
    lossOf(plain.region()({plain.x, plain.rows}), true).backward();
    lossOf(recomputeInBackward(recomputed.region(), {recomputed.x, recomputed.rows}), true).backward();
  }
  EXPECT_EQ(recomputed.runs, 4);
  EXPECT_TRUE(at::allclose(recomputed.weight.grad(), plain.weight.grad(), 1e-12, 1e-12));
  EXPECT_TRUE(at::allclose(recomputed.x.grad(), plain.x.grad(), 1e-12, 1e-12));
}

TEST(RecomputeInBackward, WithoutGradModeItOnlyRunsTheRegion) {
  Fixture f;
  const torch::NoGradGuard no_grad;
  const std::vector<at::Tensor> outputs = recomputeInBackward(f.region(), {f.x, f.rows});
  EXPECT_EQ(f.runs, 1);
  EXPECT_FALSE(outputs[0].requires_grad());
}

TEST(RecomputeInBackward, InputsWithoutGradStillGiveTheParametersTheirGradient) {
  Fixture plain;
  Fixture recomputed;
  recomputed.weight = plain.weight.detach().clone().requires_grad_(true);
  const at::Tensor x = plain.x.detach();
  lossOf(plain.region()({x, plain.rows}), true).backward();
  lossOf(recomputeInBackward(recomputed.region(), {x, recomputed.rows}), true).backward();
  // No input to hang a node on: the region runs once, with autograd, as without recomputation.
  EXPECT_EQ(recomputed.runs, 1);
  ASSERT_TRUE(recomputed.weight.grad().defined());
  EXPECT_TRUE(at::allclose(recomputed.weight.grad(), plain.weight.grad(), 1e-12, 1e-12));
}

TEST(RecomputeInBackward, GradientReadyHooksFireOnceWithTheFinalGradient) {
  Fixture f;
  std::vector<at::Tensor> seen;
  int fired = 0;
  {
    const GradientReadyHooks hooks({f.weight}, [&](std::size_t) {
      ++fired;
      seen.push_back(f.weight.grad().clone());
    });
    lossOf(recomputeInBackward(f.region(), {f.x, f.rows}), true).backward();
  }
  EXPECT_EQ(f.runs, 2);
  ASSERT_EQ(fired, 1);
  EXPECT_TRUE(at::equal(seen.front(), f.weight.grad()));
}

// Tensor bytes forward leaves allocated (the outputs included), measured in a child process so that
// the counting allocator stays out of this one.
std::int64_t bytesKeptByForward(bool recompute) {
  const RankRun run = runOnRanks(1, [recompute](const WorldInfo& info) {
    tensor_memory::installCountingAllocator();
    const at::Tensor x = torch::randn({256, 256}, at::kFloat).requires_grad_(true);
    // Three 256 x 256 intermediates that autograd saves: exp and tanh keep their results, the
    // products their operands (a, tanh(a), b and the input x, which exists before).
    const RecomputedRegion region = [](const std::vector<at::Tensor>& in) {
      const at::Tensor a = in[0].exp();
      const at::Tensor b = a * a.tanh();
      return std::vector<at::Tensor>{(b * in[0]).sum(0)};
    };
    const std::int64_t before = tensor_memory::liveBytes();
    const std::vector<at::Tensor> outputs = recompute ? recomputeInBackward(region, {x}) : region({x});
    saveRankDoubles(info, "kept", {static_cast<double>(tensor_memory::liveBytes() - before)});
  });
  if (!expectAllRanksOk(run)) return -1;
  return static_cast<std::int64_t>(run.loadDoubles(0, "kept").at(0));
}

TEST(RecomputeInBackward, ForwardKeepsOnlyTheOutputs) {
  const std::int64_t output_bytes = 256 * 4;
  EXPECT_EQ(bytesKeptByForward(true), output_bytes);
  EXPECT_GE(bytesKeptByForward(false), output_bytes + 3 * 256 * 256 * 4);
}

// The gradients of two micro-batches whose forwards both run before either backward, with a
// different dropout context each (the pipeline schedules' order): recomputation must use the
// dropout of its own forward, not the model's context at backward time.
std::vector<at::Tensor> interleavedMicroBatchGradients(Arch arch, Recompute recompute) {
  ModelConfig config;
  config.arch = arch;
  config.n_layer = 2;
  config.n_head = 4;
  config.d_model = 32;
  config.seq_len = 16;
  config.vocab_size = 64;
  config.dropout = 0.2;
  if (arch == Arch::llama) config.n_kv_head = 2;
  const auto model = buildModel(config, 7);
  model->setRecompute(recompute);
  const at::Tensor tokens = at::remainder(at::arange(2 * 16, at::kLong) * 7, 64).view({2, 16});
  const at::Tensor targets = at::remainder(tokens + 1, 64);
  model->setDropoutContext({11, 3, 0});
  const at::Tensor first = model->loss(tokens, targets);
  model->setDropoutContext({11, 3, 2});
  const at::Tensor second = model->loss(tokens, targets);
  first.backward();
  second.backward();
  std::vector<at::Tensor> gradients;
  for (const at::Tensor& parameter : model->parameters()) gradients.push_back(parameter.grad().clone());
  return gradients;
}

TEST(ModelRecompute, EveryModeGivesTheGradientsOfItsOwnForwardsDropout) {
  for (const Arch arch : {Arch::gpt, Arch::llama}) {
    const std::vector<at::Tensor> reference = interleavedMicroBatchGradients(arch, Recompute::none);
    for (const Recompute mode : {Recompute::selective, Recompute::full}) {
      const std::vector<at::Tensor> gradients = interleavedMicroBatchGradients(arch, mode);
      ASSERT_EQ(gradients.size(), reference.size());
      for (std::size_t k = 0; k < reference.size(); ++k) {
        EXPECT_TRUE(at::allclose(gradients[k], reference[k], 1e-5, 1e-7))
            << archName(arch) << " " << recomputeName(mode) << " parameter " << k << " differs by "
            << (gradients[k] - reference[k]).abs().max().item<double>();
      }
    }
  }
}

}  // namespace
}  // namespace behemoth
