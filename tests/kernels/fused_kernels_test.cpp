// Every fused kernel against the ATen composition it replaces: the forward output and every
// gradient (through the autograd functions the zoo calls).
//
// Bounds. fp32: norm-wise relative error ||ours - ref|| / ||ref|| <= 1e-6 against ATen computing
// in float64 and against ATen in float32 (elementwise relative error is meaningless for entries
// that cancel to near zero, such as a LayerNorm gradient's). GELU forward and backward are also
// held element by element against an exact float64 GELU: 1e-6 relative, or at most twice ATen's
// own float32 error where float32 cannot reach 1e-6 (see the test for the tail and the gradient's zero). bf16: every element within one bf16
// rounding (2^-8 relative) of ATen's bf16 result, plus the float32 noise of values that round the
// other way, checked as 2^-7 relative to the largest element. Where ATen rounds to bf16 after each
// of its operations (GELU), ours is held to ATen's float32 result rounded once, and to ATen's bf16
// within a few roundings. GELU's element-wise reference is exactGelu below.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/model/fused_ops.h"
#include "kernels/fused_gelu.h"
#include "kernels/fused_norm.h"
#include "kernels/fused_swiglu.h"
#include "tests/kernels/kernel_test_support.h"

namespace behemoth {
namespace {

using kernel_test::leaf;
using kernel_test::relativeNormError;
using kernel_test::maxErrorRelativeToLargest;

std::vector<at::Tensor> gradients(const at::Tensor& output, const std::vector<at::Tensor>& inputs, const at::Tensor& grad) {
  return torch::autograd::grad({output}, inputs, {grad}, /*retain_graph=*/true, false, /*allow_unused=*/true);
}


// GELU inputs across the whole curve, the far tails and zero included.
at::Tensor geluInputs() {
  at::manual_seed(11);
  at::Tensor x = at::randn({64, 384}) * 3.0;
  x[0][0] = 0.0;
  x[0][1] = -12.0;
  x[0][2] = 12.0;
  x[0][3] = -80.0;
  x[0][4] = 1e-6;
  return x;
}

// GELU(tanh) in float64 without cancellation: 0.5 z (1 + tanh u) = z sigmoid(2u). ATen's
// composition, even in float64, cancels 1 + tanh(u) to 0 for z below about -7, where the true value
// is about z e^(2u) (-3.7e-16 at z = -7.15): element-wise, only this form is an exact reference.
at::Tensor exactGelu(const at::Tensor& z) {
  const at::Tensor u = std::sqrt(2.0 / M_PI) * (z + 0.044715 * z * z * z);
  return z * at::sigmoid(2.0 * u);
}

TEST(FusedGelu, ForwardAndGradientsEqualAtenWithAndWithoutBias) {
  const at::Tensor x = geluInputs();
  const at::Tensor bias = at::randn({384});
  const at::Tensor grad = at::randn({64, 384});
  for (const bool with_bias : {false, true}) {
    SCOPED_TRACE(with_bias ? "with bias" : "without bias");
    const at::Tensor b = with_bias ? leaf(bias) : at::Tensor();
    const at::Tensor xf = leaf(x);
    const at::Tensor ours = fusedGelu(xf, b);
    // ATen in float64 (the exact answer to float precision) and in float32.
    const at::Tensor x64 = leaf(x.to(at::kDouble));
    const at::Tensor b64 = with_bias ? leaf(bias.to(at::kDouble)) : at::Tensor();
    const at::Tensor ref64 = exactGelu(with_bias ? x64 + b64 : x64);
    const at::Tensor ref32 = at::gelu(with_bias ? x + bias : x, "tanh");
    // Element by element: 1e-6 relative where z >= -3. Below, GELU is tiny (|gelu| < 4e-3) and
    // ill-conditioned: exp's float argument 2u carries a relative error of about |2u| ulp, which an
    // exact float answer would not have; there the bound is 1e-8 absolute.
    const at::Tensor z64 = (with_bias ? x64 + b64 : x64).detach();
    // Bound: 1e-6, or twice ATen's own float32 error on the same elements where float32 itself
    // cannot do better (near z = -3 the argument's rounding shows; ATen reaches 1.2e-5 there).
    const at::Tensor body = z64 >= -3.0;
    const auto bodyRelative = [&](const at::Tensor& value) {
      const at::Tensor error = (value.to(at::kDouble) - ref64).abs().detach();
      return (error / (ref64.abs().detach() + 1e-30)).masked_select(body).max().item<double>();
    };
    EXPECT_LE(bodyRelative(ours), std::max(1e-6, 2 * bodyRelative(ref32)));
    const at::Tensor error = (ours.to(at::kDouble) - ref64).abs().detach();
    EXPECT_LE(error.masked_select(body.logical_not()).max().item<double>(), 1e-8);
    EXPECT_LE(relativeNormError(ours, at::gelu(with_bias ? x64 + b64 : x64, "tanh")), 1e-6);  // ATen in float64
    EXPECT_LE(relativeNormError(ours, ref32), 1e-6);

    std::vector<at::Tensor> inputs{xf};
    std::vector<at::Tensor> inputs64{x64};
    if (with_bias) {
      inputs.push_back(b);
      inputs64.push_back(b64);
    }
    const auto g = gradients(ours, inputs, grad);
    const auto g64 = gradients(ref64, inputs64, grad.to(at::kDouble));
    // GELU's derivative is bounded (|gelu'| <= 1.13) and crosses zero at z = -0.75, so each element
    // is held to 1e-6 of the gradient flowing in: relative to the largest value it can take there.
    // Bound as above: 1e-6, or twice ATen's float32 backward on the same elements.
    const auto perIncoming = [&](const at::Tensor& value) {
      return ((value.to(at::kDouble) - g64[0]).abs() / (grad.to(at::kDouble).abs() + 1e-30)).max().item<double>();
    };
    const at::Tensor aten_grad = at::gelu_backward(grad, with_bias ? x + bias : x, "tanh");
    EXPECT_LE(perIncoming(g[0]), std::max(1e-6, 2 * perIncoming(aten_grad)));
    EXPECT_LE(relativeNormError(g[0], g64[0]), 1e-6);
    if (with_bias) {
      EXPECT_LE(relativeNormError(g[1], g64[1]), 1e-6);
    }
  }
}

// ATen's bf16 GELU rounds to bf16 after each of its operations; ours rounds once. So ours is held
// to the exact result of the same bf16 inputs rounded once (one rounding apart at most, mostly
// bit-equal), and to ATen's bf16 result within a few roundings (2^-6).
TEST(FusedGelu, Bf16RoundsTheFloatResultOnce) {
  const at::Tensor x = geluInputs().to(at::kBFloat16);
  const at::Tensor grad = at::randn({64, 384}).to(at::kBFloat16);
  const at::Tensor ours = geluTanhForward(x, {});
  EXPECT_EQ(ours.scalar_type(), at::kBFloat16);
  const at::Tensor rounded_once = exactGelu(x.to(at::kDouble)).to(at::kBFloat16);
  EXPECT_LE(maxErrorRelativeToLargest(ours, rounded_once), 1.0 / 256);
  EXPECT_GE(ours.eq(rounded_once).to(at::kFloat).mean().item<double>(), 0.95);
  EXPECT_LE(maxErrorRelativeToLargest(ours, at::gelu(x, "tanh")), 1.0 / 64);

  const auto [grad_x, grad_bias] = geluTanhBackward(grad, x, {});
  EXPECT_FALSE(grad_bias.defined());
  const at::Tensor x64 = x.to(at::kDouble).requires_grad_(true);
  const at::Tensor grad_rounded_once = gradients(exactGelu(x64), {x64}, grad.to(at::kDouble))[0].to(at::kBFloat16);
  EXPECT_LE(maxErrorRelativeToLargest(grad_x, grad_rounded_once), 1.0 / 256);
  EXPECT_GE(grad_x.eq(grad_rounded_once).to(at::kFloat).mean().item<double>(), 0.95);
  EXPECT_LE(maxErrorRelativeToLargest(grad_x, at::gelu_backward(grad, x, "tanh")), 1.0 / 64);
}

TEST(FusedSwiglu, ForwardAndGradientsEqualAten) {
  at::manual_seed(5);
  const at::Tensor gate = at::randn({32, 96}) * 4.0;
  const at::Tensor up = at::randn({32, 96});
  const at::Tensor grad = at::randn({32, 96});
  const at::Tensor g = leaf(gate), u = leaf(up);
  const at::Tensor ours = fusedSwiglu(g, u);
  const at::Tensor g64 = leaf(gate.to(at::kDouble)), u64 = leaf(up.to(at::kDouble));
  const at::Tensor ref64 = at::silu(g64) * u64;
  EXPECT_LE(relativeNormError(ours, ref64), 1e-6);
  EXPECT_LE(relativeNormError(ours, at::silu(gate) * up), 1e-6);
  const auto ours_grads = gradients(ours, {g, u}, grad);
  const auto ref_grads = gradients(ref64, {g64, u64}, grad.to(at::kDouble));
  EXPECT_LE(relativeNormError(ours_grads[0], ref_grads[0]), 1e-6);
  EXPECT_LE(relativeNormError(ours_grads[1], ref_grads[1]), 1e-6);

  const at::Tensor gate16 = gate.to(at::kBFloat16), up16 = up.to(at::kBFloat16);
  EXPECT_LE(maxErrorRelativeToLargest(swigluForward(gate16, up16), at::silu(gate16) * up16), 1.0 / 128);
}

// The ATen composition the zoo runs without fused kernels: the residual add, then the norm.
at::Tensor atenNorm(NormKind kind, const at::Tensor& sum, const at::Tensor& weight, const at::Tensor& bias, double eps) {
  if (kind == NormKind::layer_norm) return at::layer_norm(sum, {sum.size(-1)}, weight, bias, eps);
  const at::Tensor x = sum.to(at::kFloat);
  return weight * (x * at::rsqrt(x.pow(2).mean(-1, true) + eps)).to(sum.scalar_type());
}

class FusedNormTest : public ::testing::TestWithParam<NormKind> {};

TEST_P(FusedNormTest, AddThenNormalizeAndItsGradientsEqualAten) {
  const NormKind kind = GetParam();
  const bool layer_norm = kind == NormKind::layer_norm;
  at::manual_seed(3);
  // Rows with an offset and a scale, so that the mean and the variance both matter.
  const at::Tensor x = at::randn({2, 40, 160}) * 2.0 + 0.5;
  const at::Tensor residual = at::randn({2, 40, 160});
  const at::Tensor weight = at::randn({160});
  const at::Tensor bias = layer_norm ? at::randn({160}) : at::Tensor();
  const at::Tensor grad_output = at::randn({2, 40, 160});
  const at::Tensor grad_sum = at::randn({2, 40, 160});
  const double eps = 1e-5;

  const at::Tensor xf = leaf(x), rf = leaf(residual), wf = leaf(weight);
  const at::Tensor bf = layer_norm ? leaf(bias) : at::Tensor();
  const auto [sum, output] = fusedAddNorm(kind, xf, rf, wf, bf, eps);

  for (const at::ScalarType dtype : {at::kDouble, at::kFloat}) {
    SCOPED_TRACE(dtype == at::kDouble ? "against float64" : "against float32");
    const at::Tensor x2 = leaf(x.to(dtype)), r2 = leaf(residual.to(dtype)), w2 = leaf(weight.to(dtype));
    const at::Tensor b2 = layer_norm ? leaf(bias.to(dtype)) : at::Tensor();
    const at::Tensor sum2 = x2 + r2;
    const at::Tensor out2 = atenNorm(kind, sum2, w2, b2, eps);
    EXPECT_LE(relativeNormError(sum, sum2), 1e-7);
    EXPECT_LE(relativeNormError(output, out2), 1e-6);

    // Both outputs receive a gradient: the norm's, and the residual stream's read after it.
    std::vector<at::Tensor> ours_in{xf, rf, wf}, ref_in{x2, r2, w2};
    if (layer_norm) {
      ours_in.push_back(bf);
      ref_in.push_back(b2);
    }
    const auto ours = torch::autograd::grad({sum, output}, ours_in, {grad_sum, grad_output}, true);
    const auto ref = torch::autograd::grad({sum2, out2}, ref_in, {grad_sum.to(dtype), grad_output.to(dtype)}, true);
    const char* names[] = {"x", "residual", "weight", "bias"};
    for (std::size_t k = 0; k < ours.size(); ++k) EXPECT_LE(relativeNormError(ours[k], ref[k]), 1e-6) << names[k];
  }
}

TEST_P(FusedNormTest, NormWithoutResidualEqualsAten) {
  const NormKind kind = GetParam();
  at::manual_seed(4);
  const at::Tensor x = at::randn({24, 64}) * 3.0 - 1.0;
  const at::Tensor weight = at::randn({64});
  const at::Tensor bias = kind == NormKind::layer_norm ? at::randn({64}) : at::Tensor();
  const at::Tensor grad = at::randn({24, 64});
  const at::Tensor xf = leaf(x), wf = leaf(weight);
  const at::Tensor ours = fusedNorm(kind, xf, wf, bias, 1e-5);
  const at::Tensor x64 = leaf(x.to(at::kDouble)), w64 = leaf(weight.to(at::kDouble));
  const at::Tensor ref = atenNorm(kind, x64, w64, bias.defined() ? bias.to(at::kDouble) : bias, 1e-5);
  EXPECT_LE(relativeNormError(ours, ref), 1e-6);
  const auto g = gradients(ours, {xf, wf}, grad);
  const auto g64 = gradients(ref, {x64, w64}, grad.to(at::kDouble));
  EXPECT_LE(relativeNormError(g[0], g64[0]), 1e-6);
  EXPECT_LE(relativeNormError(g[1], g64[1]), 1e-6);
}

TEST_P(FusedNormTest, Bf16WithinTheMantissaOfAten) {
  const NormKind kind = GetParam();
  at::manual_seed(6);
  const at::Tensor x = (at::randn({16, 128}) * 2.0).to(at::kBFloat16);
  const at::Tensor residual = at::randn({16, 128}).to(at::kBFloat16);
  const at::Tensor weight = at::randn({128}).to(at::kBFloat16);
  const at::Tensor bias = kind == NormKind::layer_norm ? at::randn({128}).to(at::kBFloat16) : at::Tensor();
  const NormForward ours = fusedNormForward(kind, x, residual, weight, bias, 1e-5);
  const at::Tensor sum = x + residual;
  EXPECT_TRUE(ours.sum.equal(sum));  // the add rounds once either way
  EXPECT_LE(maxErrorRelativeToLargest(ours.output, atenNorm(kind, sum, weight, bias, 1e-5)), 1.0 / 64);
  EXPECT_LE(maxErrorRelativeToLargest(ours.output, atenNorm(kind, sum.to(at::kFloat), weight.to(at::kFloat),
                                               bias.defined() ? bias.to(at::kFloat) : bias, 1e-5)),
            1.0 / 128);
}

INSTANTIATE_TEST_SUITE_P(Kinds, FusedNormTest, ::testing::Values(NormKind::layer_norm, NormKind::rms_norm),
                         [](const auto& info) { return info.param == NormKind::layer_norm ? "LayerNorm" : "RmsNorm"; });

TEST(FusedKernels, RefuseWhatTheyCannotTakeNamingIt) {
  const at::Tensor half = at::randn({4, 8}).to(at::kHalf);
  EXPECT_THROW(
      {
        try {
          geluTanhForward(half, {});
        } catch (const std::invalid_argument& error) {
          EXPECT_NE(std::string(error.what()).find("fp32 or bf16"), std::string::npos) << error.what();
          throw;
        }
      },
      std::invalid_argument);
  EXPECT_THROW(geluTanhForward(at::randn({4, 8}), at::randn({7})), std::invalid_argument);
  EXPECT_THROW(swigluForward(at::randn({4, 8}), at::randn({4, 9})), std::invalid_argument);
  EXPECT_THROW(fusedNormForward(NormKind::layer_norm, at::randn({4, 8}), {}, at::randn({9}), {}, 1e-5), std::invalid_argument);
  EXPECT_THROW(fusedNormForward(NormKind::rms_norm, at::randn({4, 8}), {}, at::randn({8}), at::randn({8}), 1e-5),
               std::invalid_argument);
}

}  // namespace
}  // namespace behemoth
