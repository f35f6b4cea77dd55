// The fused softmax cross-entropy and rotary kernels against the ATen compositions they replace,
// through the autograd functions the zoo calls. Bounds as in fused_kernels_test.cpp: fp32 norm-wise
// relative error <= 1e-6 against ATen in float64 and in float32; bf16 within one rounding of the
// exact (float64) result, checked as 2^-7 relative to the largest element.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/model/attention.h"
#include "backend/model/fused_ops.h"
#include "kernels/fused_cross_entropy.h"
#include "kernels/fused_rotary.h"
#include "parallel/step_profile.h"
#include "tests/kernels/kernel_test_support.h"

namespace behemoth {
namespace {

using kernel_test::leaf;
using kernel_test::relativeNormError;
using kernel_test::maxErrorRelativeToLargest;

at::Tensor gradientOf(const at::Tensor& output, const at::Tensor& input, const at::Tensor& grad) {
  return torch::autograd::grad({output}, {input}, {grad}, /*retain_graph=*/true).front();
}

// Logits with a wide spread, a row far above the rest (a naive e^x overflows), targets with a few
// rows left out (-100).
struct LossInputs {
  at::Tensor logits;
  at::Tensor targets;
};

LossInputs lossInputs(std::int64_t rows, std::int64_t vocab) {
  at::manual_seed(5);
  LossInputs in{at::randn({rows, vocab}) * 4.0, at::randint(0, vocab, {rows}, at::kLong)};
  in.logits[1] += 300.0;
  const std::int64_t hot = std::min<std::int64_t>(7, vocab - 1);
  in.logits[2][hot] = 90.0;
  in.targets[2] = hot;
  in.targets[3] = kIgnoreTarget;
  in.targets[rows - 1] = kIgnoreTarget;
  return in;
}

TEST(FusedCrossEntropy, LossAndGradientEqualAten) {
  for (const std::int64_t vocab : {1, 37, 256, 3000}) {
    SCOPED_TRACE("vocab " + std::to_string(vocab));
    const LossInputs in = lossInputs(48, vocab);
    const at::Tensor grad = at::scalar_tensor(0.7);
    const at::Tensor ours_in = leaf(in.logits);
    const at::Tensor ours = fusedCrossEntropy(ours_in, in.targets);
    for (const auto dtype : {at::kDouble, at::kFloat}) {
      const at::Tensor ref_in = leaf(in.logits.to(dtype));
      const at::Tensor ref = at::cross_entropy_loss(ref_in, in.targets);
      EXPECT_LE(relativeNormError(ours, ref), 1e-6);
      EXPECT_LE(relativeNormError(gradientOf(ours, ours_in, grad), gradientOf(ref, ref_in, grad.to(dtype))), 1e-6);
    }
    EXPECT_EQ(ours.scalar_type(), at::kFloat);
    EXPECT_TRUE(std::isfinite(ours.item<double>()));
  }
}

TEST(FusedCrossEntropy, LeftOutRowsGetNoGradientAndAllLeftOutIsNan) {
  const LossInputs in = lossInputs(16, 50);
  const at::Tensor logits = leaf(in.logits);
  const at::Tensor grad = gradientOf(fusedCrossEntropy(logits, in.targets), logits, at::scalar_tensor(1.0));
  EXPECT_TRUE(grad[3].eq(0).all().item<bool>());
  EXPECT_TRUE(grad[15].eq(0).all().item<bool>());
  // Every other row's gradient sums to zero: softmax minus a one-hot.
  EXPECT_LT(grad[4].sum().abs().item<double>(), 1e-7);
  const at::Tensor none = at::full({16}, kIgnoreTarget, at::kLong);
  EXPECT_TRUE(std::isnan(fusedCrossEntropy(in.logits, none).item<double>()));
  EXPECT_TRUE(std::isnan(at::cross_entropy_loss(in.logits, none).item<double>()));
}

TEST(FusedCrossEntropy, Bf16WithinOneRoundingOfTheExactResult) {
  const LossInputs in = lossInputs(64, 512);
  const at::Tensor logits = in.logits.to(at::kBFloat16);
  const at::Tensor ours_in = leaf(logits);
  const at::Tensor ours = fusedCrossEntropy(ours_in, in.targets);
  EXPECT_EQ(ours.scalar_type(), at::kBFloat16);
  // The exact answer for these bf16 logits: ATen in float64 on the same values.
  const at::Tensor exact_in = leaf(logits.to(at::kDouble));
  const at::Tensor exact = at::cross_entropy_loss(exact_in, in.targets);
  const double rounding = std::ldexp(1.0, -8);
  EXPECT_LE(std::abs(ours.item<double>() - exact.item<double>()), rounding * std::abs(exact.item<double>()));
  const at::Tensor grad = at::scalar_tensor(1.0);
  EXPECT_LE(maxErrorRelativeToLargest(gradientOf(ours, ours_in, grad.to(at::kBFloat16)), gradientOf(exact, exact_in, grad.to(at::kDouble))),
            2 * rounding);
}

TEST(FusedCrossEntropy, RefusesATargetOutsideTheVocabularyNamingTheRow) {
  LossInputs in = lossInputs(8, 20);
  in.targets[5] = 20;
  try {
    fusedCrossEntropy(in.logits, in.targets);
    FAIL() << "expected a refusal";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("target 20 of row 5 is outside the vocabulary 0..19"), std::string::npos)
        << error.what();
  }
  EXPECT_THROW(fusedCrossEntropy(in.logits.to(at::kHalf), in.targets), std::invalid_argument);
  EXPECT_THROW(fusedCrossEntropy(in.logits, in.targets.to(at::kInt)), std::invalid_argument);
}

TEST(FusedCrossEntropy, TheStepProfileCountsItAsLoss) {
  EXPECT_EQ(classifyOperator("torch::autograd::CppNode<behemoth::(anonymous namespace)::FusedCrossEntropy>"), OpKind::loss);
  EXPECT_EQ(classifyOperator("torch::autograd::CppNode<behemoth::(anonymous namespace)::FusedRotary>"), OpKind::elementwise);
}

// x * cos + rotate_half(x) * sin for any tables (ATen's composition, the zoo's applyRotary).
at::Tensor rotaryComposition(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  return applyRotary(x, RotaryTables{cos, sin});
}

// Heads as the zoo makes them: [B, T, H, D] viewed as [B, H, T, D] (not dense beyond D).
at::Tensor headsView(const at::Tensor& base) { return base.transpose(1, 2); }

TEST(FusedRotary, ForwardAndGradientEqualAtenForRealAndArbitraryTables) {
  at::manual_seed(9);
  const at::Tensor base = at::randn({2, 16, 4, 32});
  const at::Tensor grad = at::randn({2, 4, 16, 32});
  const RotaryTables real = rotaryTables(3, 16, 32, 10000.0, at::TensorOptions().dtype(at::kDouble));
  // Tables whose halves differ: the backward must be the exact transpose, not just the inverse rotation.
  const RotaryTables arbitrary{at::randn({16, 32}, at::kDouble), at::randn({16, 32}, at::kDouble)};
  for (const RotaryTables* tables : {&real, &arbitrary}) {
    SCOPED_TRACE(tables == &real ? "rotary tables" : "arbitrary tables");
    const at::Tensor ours_base = leaf(base);
    const at::Tensor ours =
        fusedRotary(headsView(ours_base), tables->cos.to(at::kFloat), tables->sin.to(at::kFloat));
    for (const auto dtype : {at::kDouble, at::kFloat}) {
      const at::Tensor ref_base = leaf(base.to(dtype));
      const at::Tensor ref = rotaryComposition(headsView(ref_base), tables->cos.to(dtype), tables->sin.to(dtype));
      EXPECT_LE(relativeNormError(ours, ref), 1e-6);
      EXPECT_LE(relativeNormError(gradientOf(ours, ours_base, grad), gradientOf(ref, ref_base, grad.to(dtype))), 1e-6);
    }
  }
}

TEST(FusedRotary, WithoutAutogradRotatesInPlace) {
  at::manual_seed(10);
  const RotaryTables tables = rotaryTables(0, 8, 16, 10000.0, at::TensorOptions());
  const at::Tensor base = at::randn({1, 8, 3, 16});
  const at::Tensor expected = rotaryComposition(headsView(base), tables.cos, tables.sin);
  at::NoGradGuard no_grad;
  const at::Tensor heads = headsView(base);
  const at::Tensor rotated = fusedRotary(heads, tables.cos, tables.sin);
  EXPECT_EQ(rotated.data_ptr(), base.data_ptr());
  EXPECT_LE(relativeNormError(headsView(base), expected), 1e-6);
}

TEST(FusedRotary, Bf16WithinOneRoundingOfTheExactResult) {
  at::manual_seed(12);
  const at::Tensor x = at::randn({2, 4, 16, 64}).to(at::kBFloat16);
  const RotaryTables tables = rotaryTables(0, 16, 64, 10000.0, at::TensorOptions().dtype(at::kBFloat16));
  const at::Tensor ours_in = leaf(x);
  const at::Tensor ours = fusedRotary(ours_in, tables.cos, tables.sin);
  const at::Tensor exact_in = leaf(x.to(at::kDouble));
  const at::Tensor exact = rotaryComposition(exact_in, tables.cos.to(at::kDouble), tables.sin.to(at::kDouble));
  const double rounding = std::ldexp(1.0, -8);
  EXPECT_LE(maxErrorRelativeToLargest(ours, exact), 2 * rounding);
  const at::Tensor grad = at::randn({2, 4, 16, 64}).to(at::kBFloat16);
  EXPECT_LE(maxErrorRelativeToLargest(gradientOf(ours, ours_in, grad), gradientOf(exact, exact_in, grad.to(at::kDouble))), 2 * rounding);
}

TEST(FusedRotary, RefusesWhatItCannotTake) {
  const RotaryTables tables = rotaryTables(0, 8, 16, 10000.0, at::TensorOptions());
  EXPECT_THROW(rotaryForward(at::randn({1, 2, 8, 15}), tables.cos.narrow(1, 0, 15), tables.sin.narrow(1, 0, 15)),
               std::invalid_argument);
  EXPECT_THROW(rotaryForward(at::randn({1, 2, 9, 16}), tables.cos, tables.sin), std::invalid_argument);
  EXPECT_THROW(rotaryForward(at::randn({2, 8, 16}), tables.cos, tables.sin), std::invalid_argument);
  EXPECT_THROW(rotaryForward(at::randn({1, 2, 8, 16}).to(at::kBFloat16), tables.cos, tables.sin), std::invalid_argument);
}

}  // namespace
}  // namespace behemoth
