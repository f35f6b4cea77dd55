// Blockwise attention equals softmax attention written out densely (scores, causal mask, softmax,
// dropout, times v, repeated key/value heads), forward and every gradient, for block sizes that
// leave partial blocks and odd block counts, with and without grouped-query heads and dropout.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <limits>
#include <tuple>

#include "kernels/blockwise_attention.h"

namespace behemoth {
namespace {

struct Case {
  std::int64_t batch, heads, kv_heads, length, dim, block;
  double dropout;
};

struct Result {
  at::Tensor out, d_q, d_k, d_v;
};

// The dense reference: every [T, T] matrix materialised, autograd through ATen's softmax.
Result denseReference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& d_out,
                      const at::Tensor& dropped, double p) {
  const at::Tensor qr = q.detach().requires_grad_(true);
  const at::Tensor kr = k.detach().requires_grad_(true);
  const at::Tensor vr = v.detach().requires_grad_(true);
  const std::int64_t groups = q.size(1) / k.size(1);
  const at::Tensor keys = kr.repeat_interleave(groups, 1);
  const at::Tensor values = vr.repeat_interleave(groups, 1);
  at::Tensor scores = at::matmul(qr, keys.transpose(-2, -1)) / std::sqrt(static_cast<double>(q.size(3)));
  const std::int64_t length = q.size(2);
  scores = scores.masked_fill(at::ones({length, length}, at::kBool).triu(1), -std::numeric_limits<double>::infinity());
  at::Tensor probabilities = at::softmax(scores, -1);
  if (p > 0.0) probabilities = probabilities.masked_fill(dropped, 0.0) / (1.0 - p);
  const at::Tensor out = at::matmul(probabilities, values);
  const auto grads = torch::autograd::grad({out}, {qr, kr, vr}, {d_out});
  return {out.detach(), grads[0], grads[1], grads[2]};
}

Result blockwise(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& d_out,
                 const at::Tensor& dropped, const Case& c) {
  const at::Tensor qr = q.detach().requires_grad_(true);
  const at::Tensor kr = k.detach().requires_grad_(true);
  const at::Tensor vr = v.detach().requires_grad_(true);
  BlockwiseAttentionOptions options;
  options.block = c.block;
  options.dropout.p = c.dropout;
  options.dropout.dropped = [dropped](std::int64_t, std::int64_t qs, std::int64_t ql, std::int64_t ks, std::int64_t kl) {
    return dropped.narrow(2, qs, ql).narrow(3, ks, kl);
  };
  const at::Tensor out = blockwiseCausalAttention(qr, kr, vr, options);
  const auto grads = torch::autograd::grad({out}, {qr, kr, vr}, {d_out});
  return {out.detach(), grads[0], grads[1], grads[2]};
}

class BlockwiseAttention : public ::testing::TestWithParam<Case> {};

TEST_P(BlockwiseAttention, EqualsDenseAttentionForwardAndBackward) {
  const Case c = GetParam();
  at::manual_seed(11);
  const at::Tensor q = at::randn({c.batch, c.heads, c.length, c.dim});
  const at::Tensor k = at::randn({c.batch, c.kv_heads, c.length, c.dim});
  const at::Tensor v = at::randn({c.batch, c.kv_heads, c.length, c.dim});
  const at::Tensor d_out = at::randn({c.batch, c.heads, c.length, c.dim});
  const at::Tensor dropped = at::rand({c.batch, c.heads, c.length, c.length}) < c.dropout;
  const Result want = denseReference(q, k, v, d_out, dropped, c.dropout);
  const Result got = blockwise(q, k, v, d_out, dropped, c);
  ASSERT_EQ(got.out.sizes(), want.out.sizes());
  EXPECT_LE((got.out - want.out).abs().max().item<double>(), 1e-5);
  EXPECT_LE((got.d_q - want.d_q).abs().max().item<double>(), 1e-5);
  EXPECT_LE((got.d_k - want.d_k).abs().max().item<double>(), 1e-5);
  EXPECT_LE((got.d_v - want.d_v).abs().max().item<double>(), 1e-5);
  // The gradients are not trivially small: a wrong recomputation would show.
  EXPECT_GT(want.d_k.abs().max().item<double>(), 0.1);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, BlockwiseAttention,
    ::testing::Values(Case{2, 4, 4, 64, 8, 16, 0.0},   // whole blocks, plain multi-head
                      Case{2, 4, 2, 37, 8, 8, 0.0},    // partial last block, 5 blocks, grouped-query
                      Case{1, 6, 2, 29, 16, 7, 0.0},   // odd block size, three query heads per kv head
                      Case{2, 4, 1, 33, 8, 64, 0.0},   // one block larger than the sequence
                      Case{2, 4, 2, 37, 8, 8, 0.25},   // dropout through partial blocks
                      Case{1, 2, 2, 19, 4, 1, 0.1}));  // one-token blocks

TEST(BlockwiseAttentionLayout, ReturnsAHeadMajorViewOfATokenMajorTensor) {
  const at::Tensor q = at::randn({2, 4, 10, 8});
  const at::Tensor out = blockwiseCausalAttention(q, q, q, {});
  ASSERT_EQ(out.sizes(), q.sizes());
  // Merging the heads ([B, T, H * D]) is then a view: no copy on the way to the output projection.
  EXPECT_TRUE(out.transpose(1, 2).is_contiguous());
}

TEST(BlockwiseAttentionBf16, StaysWithinBf16PrecisionOfTheFloatResult) {
  at::manual_seed(3);
  const at::Tensor q = at::randn({1, 4, 45, 16});
  const at::Tensor k = at::randn({1, 2, 45, 16});
  const at::Tensor v = at::randn({1, 2, 45, 16});
  BlockwiseAttentionOptions options;
  options.block = 16;
  const at::Tensor exact = blockwiseCausalAttention(q, k, v, options);
  const at::Tensor half =
      blockwiseCausalAttention(q.to(at::kBFloat16), k.to(at::kBFloat16), v.to(at::kBFloat16), options);
  EXPECT_EQ(half.scalar_type(), at::kBFloat16);
  // bf16 keeps 8 significant bits: inputs and output each rounded to 2^-8 relative.
  EXPECT_LE((half.to(at::kFloat) - exact).abs().max().item<double>(), 4 * std::pow(2.0, -8) * exact.abs().max().item<double>());
}

TEST(BlockwiseAttentionInput, RefusesMismatchedShapes) {
  const at::Tensor q = at::randn({1, 3, 8, 4});
  const at::Tensor k = at::randn({1, 2, 8, 4});
  EXPECT_THROW(blockwiseCausalAttention(q, k, k, {}), std::invalid_argument);
  BlockwiseAttentionOptions zero_block;
  zero_block.block = 0;
  EXPECT_THROW(blockwiseCausalAttention(q, q, q, zero_block), std::invalid_argument);
}

}  // namespace
}  // namespace behemoth
