// Counter-based dropout (backend/model/dropout.h): a block's mask is the full mask's slice, the
// kept fraction is 1 - p, the seed / step / site / layer / sample change the mask, inverted scaling
// and its backward, and in the zoo models: nothing in eval mode, a deterministic mask per context
// that changes the loss, and a sub-batch seeing exactly its rows of the whole batch's masks.
#include "backend/model/dropout.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backend/data/counter_rng.h"
#include "backend/model/language_model.h"

namespace behemoth {
namespace {

FullTensorSlice wholeTensor(const std::vector<std::int64_t>& sizes) {
  FullTensorSlice slice;
  slice.offsets.assign(sizes.size() - 1, 0);
  slice.full_sizes.assign(sizes.begin() + 1, sizes.end());
  return slice;
}

double keptFraction(const at::Tensor& dropped) {
  return 1.0 - dropped.to(at::kDouble).mean().item<double>();
}

TEST(DropoutMask, TheMaskOfABlockIsTheBlockOfTheFullMask) {
  const std::vector<std::int64_t> full_sizes = {6, 4, 5, 7};
  const std::uint64_t stream = 99;
  const at::Tensor full = droppedMask(full_sizes, wholeTensor(full_sizes), stream, 0.3);
  ASSERT_GT(full.sum().item<std::int64_t>(), 0);
  // Blocks cut through every dimension, as dp (samples), tp (heads) and SP (positions) cut them.
  struct Block {
    std::vector<std::int64_t> start;
    std::vector<std::int64_t> sizes;
  };
  const std::vector<Block> blocks = {{{0, 0, 0, 0}, {6, 4, 5, 7}}, {{3, 0, 0, 0}, {2, 4, 5, 7}},
                                     {{0, 2, 0, 0}, {6, 2, 5, 7}}, {{1, 1, 2, 0}, {4, 2, 3, 7}},
                                     {{5, 3, 4, 3}, {1, 1, 1, 4}}, {{2, 0, 1, 2}, {3, 4, 4, 2}}};
  for (const Block& block : blocks) {
    FullTensorSlice slice;
    slice.first_sample = block.start[0];
    slice.offsets.assign(block.start.begin() + 1, block.start.end());
    slice.full_sizes.assign(full_sizes.begin() + 1, full_sizes.end());
    at::Tensor expected = full;
    for (std::size_t d = 0; d < block.sizes.size(); ++d) {
      expected = expected.narrow(static_cast<std::int64_t>(d), block.start[d], block.sizes[d]);
    }
    EXPECT_TRUE(at::equal(droppedMask(block.sizes, slice, stream, 0.3), expected))
        << "block at sample " << block.start[0] << " offsets " << block.start[1] << "," << block.start[2] << ","
        << block.start[3];
  }
}

TEST(DropoutMask, AnElementIsTheCounterHashOfItsFullIndex) {
  const std::vector<std::int64_t> sizes = {2, 3, 4};
  FullTensorSlice slice;
  slice.first_sample = 5;
  slice.offsets = {2, 1};
  slice.full_sizes = {6, 9};
  const double p = 0.5;
  const at::Tensor mask = droppedMask(sizes, slice, 7, p);
  for (std::int64_t b = 0; b < 2; ++b) {
    for (std::int64_t i = 0; i < 3; ++i) {
      for (std::int64_t j = 0; j < 4; ++j) {
        const std::uint64_t index = ((5 + b) * 6 + (2 + i)) * 9 + (1 + j);
        // At p = 0.5 exactly the elements whose hash has its top bit clear are dropped.
        const bool dropped = (counterHash(7, index) >> 63) == 0;
        EXPECT_EQ(mask[b][i][j].item<bool>(), dropped) << b << "," << i << "," << j;
      }
    }
  }
}

TEST(DropoutMask, KeepsOneMinusPWithinFourStandardDeviations) {
  const std::vector<std::int64_t> sizes = {16, 256, 256};  // about a million elements
  const double n = 16.0 * 256 * 256;
  for (const double p : {0.1, 0.5, 0.9}) {
    const double kept = keptFraction(droppedMask(sizes, wholeTensor(sizes), 2024, p));
    const double sigma = std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(kept, 1 - p, 4 * sigma) << "p " << p;
  }
  EXPECT_EQ(keptFraction(droppedMask(sizes, wholeTensor(sizes), 2024, 0.0)), 1.0);
}

TEST(DropoutMask, SeedStepSiteLayerAndSampleEachChangeTheMask) {
  const std::vector<std::int64_t> sizes = {2, 8, 32};
  const double p = 0.2;
  const DropoutContext base{1234, 3, 0};
  const at::Tensor reference = droppedMask(sizes, wholeTensor(sizes), dropoutStream(base, DropoutSite::mlp_output, 1), p);
  // Two independent masks disagree on 2 p (1 - p) of the elements: 32% here, 164 of 512.
  const auto expectIndependent = [&](std::uint64_t stream, const char* what) {
    const at::Tensor other = droppedMask(sizes, wholeTensor(sizes), stream, p);
    const double differing = other.ne(reference).to(at::kDouble).mean().item<double>();
    EXPECT_NEAR(differing, 2 * p * (1 - p), 0.1) << what;
  };
  expectIndependent(dropoutStream({1235, 3, 0}, DropoutSite::mlp_output, 1), "seed");
  expectIndependent(dropoutStream({1234, 4, 0}, DropoutSite::mlp_output, 1), "step");
  expectIndependent(dropoutStream(base, DropoutSite::attention_output, 1), "site");
  expectIndependent(dropoutStream(base, DropoutSite::mlp_output, 0), "layer");
  // The same sizes one sample further on: row 0 is now sample 1, which sample 0 must not repeat.
  FullTensorSlice shifted = wholeTensor(sizes);
  shifted.first_sample = 1;
  const at::Tensor next = droppedMask(sizes, shifted, dropoutStream(base, DropoutSite::mlp_output, 1), p);
  EXPECT_TRUE(at::equal(next[0], reference[1]));
  EXPECT_FALSE(at::equal(next[0], reference[0]));
  // The context's first sample is not part of the stream: it moves the slice, not the mask.
  EXPECT_EQ(dropoutStream(base, DropoutSite::embedding, 0), dropoutStream({1234, 3, 40}, DropoutSite::embedding, 0));
}

TEST(DropoutMask, RejectsBlocksOutsideTheFullTensor) {
  FullTensorSlice slice;
  slice.offsets = {4};
  slice.full_sizes = {8};
  EXPECT_THROW(droppedMask({2, 5}, slice, 1, 0.1), std::invalid_argument);
  EXPECT_THROW(droppedMask({2, 4}, slice, 1, 1.0), std::invalid_argument);
  slice.offsets = {};
  EXPECT_THROW(droppedMask({2, 4}, slice, 1, 0.1), std::invalid_argument);
}

TEST(ApplyDropout, ScalesTheKeptAndBackwardUsesTheSameMask) {
  const std::vector<std::int64_t> sizes = {3, 5, 16};
  const double p = 0.25;
  const at::Tensor x = at::rand(sizes, at::kFloat).add_(0.5).requires_grad_(true);
  const at::Tensor dropped = droppedMask(sizes, wholeTensor(sizes), 11, p);
  const at::Tensor y = applyDropout(x, wholeTensor(sizes), 11, p);
  const at::Tensor kept = dropped.logical_not();
  const at::Tensor expected = at::where(kept, x.detach() / (1 - p), at::zeros_like(x));
  EXPECT_TRUE(at::allclose(y.detach(), expected, 1e-6, 0));
  const at::Tensor weights = at::rand(sizes, at::kFloat);
  (y * weights).sum().backward();
  EXPECT_TRUE(at::allclose(x.grad(), at::where(kept, weights / (1 - p), at::zeros_like(weights)), 1e-6, 0));
  EXPECT_TRUE(at::equal(applyDropout(x, wholeTensor(sizes), 11, 0.0), x));
}

ModelConfig tinyConfig(Arch arch, double dropout) {
  ModelConfig config;
  config.arch = arch;
  config.n_layer = 2;
  config.n_head = 4;
  config.d_model = 32;
  config.seq_len = 16;
  config.vocab_size = 64;
  config.dropout = dropout;
  if (arch == Arch::llama) {
    config.n_kv_head = 2;
    config.tie_embeddings = false;
  }
  return config;
}

at::Tensor tokensFor(std::int64_t batch, std::int64_t seed) {
  return at::remainder(at::arange(batch * 16, at::kLong).view({batch, 16}) * (7 + seed) + seed, 64);
}

class ModelDropout : public testing::TestWithParam<Arch> {};

TEST_P(ModelDropout, EvalModeDropsNothing) {
  const auto with_dropout = buildModel(tinyConfig(GetParam(), 0.1), 3);
  const auto without = buildModel(tinyConfig(GetParam(), 0.0), 3);
  const at::Tensor tokens = tokensFor(2, 1);
  with_dropout->setDropoutContext({3, 0, 0});
  with_dropout->eval();
  EXPECT_TRUE(at::equal(with_dropout->forward(tokens), without->forward(tokens)));
  with_dropout->train();
  EXPECT_FALSE(at::allclose(with_dropout->forward(tokens), without->forward(tokens), 1e-3, 1e-3));
}

TEST_P(ModelDropout, TrainingLossIsAFunctionOfTheContextAndDiffersFromNoDropout) {
  const auto model = buildModel(tinyConfig(GetParam(), 0.1), 3);
  const auto plain = buildModel(tinyConfig(GetParam(), 0.0), 3);
  const at::Tensor tokens = tokensFor(4, 2);
  const at::Tensor targets = tokensFor(4, 5);
  const auto lossAt = [&](const DropoutContext& context) {
    model->setDropoutContext(context);
    return model->loss(tokens, targets).item<double>();
  };
  const double loss = lossAt({3, 7, 0});
  EXPECT_EQ(lossAt({3, 7, 0}), loss);  // counter-based: the same context draws the same masks
  const double no_dropout = plain->loss(tokens, targets).item<double>();
  EXPECT_GT(std::abs(loss - no_dropout), 1e-3 * no_dropout);
  EXPECT_NE(lossAt({3, 8, 0}), loss);
  EXPECT_NE(lossAt({4, 7, 0}), loss);
}

// Data parallelism and micro-batches in one process: rows [first, first + count) of a batch, run
// alone with first_sample = first, see the masks the whole batch gave those rows.
TEST_P(ModelDropout, ASubBatchSeesItsRowsOfTheWholeBatchMasks) {
  const auto model = buildModel(tinyConfig(GetParam(), 0.1), 3);
  const at::Tensor tokens = tokensFor(4, 3);
  model->setDropoutContext({3, 2, 8});
  const at::Tensor whole = model->forward(tokens);
  model->setDropoutContext({3, 2, 9});
  const at::Tensor middle = model->forward(tokens.narrow(0, 1, 2));
  EXPECT_TRUE(at::allclose(middle, whole.narrow(0, 1, 2), 1e-5, 1e-6));
  // The same rows as samples 8 and 9 instead draw other masks.
  model->setDropoutContext({3, 2, 8});
  EXPECT_FALSE(at::allclose(model->forward(tokens.narrow(0, 1, 2)), whole.narrow(0, 1, 2), 1e-3, 1e-3));
}

INSTANTIATE_TEST_SUITE_P(Architectures, ModelDropout, testing::Values(Arch::gpt, Arch::llama),
                         [](const testing::TestParamInfo<Arch>& info) { return archName(info.param); });

}  // namespace
}  // namespace behemoth
