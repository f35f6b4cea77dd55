// The slice arithmetic under loading into another layout: copyOverlap against an element-by-element
// reference on random boxes and flat ranges, and the slices a tensor-parallel rank's elements are
// (GPT's interleaved qkv, vocabulary padding, a flat ZeRO range crossing blocks).
#include <gtest/gtest.h>

#include <random>

#include "backend/checkpoint/slice_copy.h"
#include "backend/train/checkpoint_parts.h"

namespace behemoth {
namespace {

// Global row-major index of each element a slice holds, in order.
std::vector<std::int64_t> globalIndices(const TensorSlice& slice, const std::vector<std::int64_t>& shape) {
  std::vector<std::int64_t> indices;
  const std::size_t dims = shape.size();
  for (std::int64_t k = slice.flat_begin; k < slice.flat_begin + slice.numel; ++k) {
    std::int64_t rest = k;
    std::int64_t global = 0;
    std::vector<std::int64_t> coordinate(dims);
    for (std::size_t d = dims; d-- > 0;) {
      coordinate[d] = rest % slice.size[d] + slice.begin[d];
      rest /= slice.size[d];
    }
    for (std::size_t d = 0; d < dims; ++d) global = global * shape[d] + coordinate[d];
    indices.push_back(global);
  }
  return indices;
}

TensorSlice randomSlice(std::mt19937& random, const std::vector<std::int64_t>& shape) {
  TensorSlice slice;
  for (const std::int64_t size : shape) {
    const std::int64_t begin = std::uniform_int_distribution<std::int64_t>(0, size - 1)(random);
    slice.begin.push_back(begin);
    slice.size.push_back(std::uniform_int_distribution<std::int64_t>(1, size - begin)(random));
  }
  const std::int64_t box = slice.boxNumel();
  slice.flat_begin = std::uniform_int_distribution<std::int64_t>(0, box - 1)(random);
  slice.numel = std::uniform_int_distribution<std::int64_t>(1, box - slice.flat_begin)(random);
  return slice;
}

TEST(CheckpointSlices, CopyOverlapMatchesElementByElement) {
  std::mt19937 random(7);
  const std::vector<std::vector<std::int64_t>> shapes = {{17}, {6, 9}, {4, 5, 7}};
  for (int trial = 0; trial < 3000; ++trial) {
    const auto& shape = shapes[trial % shapes.size()];
    const TensorSlice source = randomSlice(random, shape);
    const TensorSlice target = randomSlice(random, shape);
    const auto source_indices = globalIndices(source, shape);
    const auto target_indices = globalIndices(target, shape);
    // Source element k holds its global index; the target starts at -1.
    std::vector<float> source_data(source_indices.begin(), source_indices.end());
    std::vector<float> target_data(target_indices.size(), -1.0f);
    const std::int64_t copied =
        copyOverlap(source, reinterpret_cast<const std::byte*>(source_data.data()), target,
                    reinterpret_cast<std::byte*>(target_data.data()), sizeof(float));
    std::int64_t expected = 0;
    for (std::size_t k = 0; k < target_indices.size(); ++k) {
      const bool held = std::find(source_indices.begin(), source_indices.end(), target_indices[k]) != source_indices.end();
      expected += held ? 1 : 0;
      ASSERT_EQ(target_data[k], held ? static_cast<float>(target_indices[k]) : -1.0f) << "trial " << trial << " element " << k;
    }
    ASSERT_EQ(copied, expected) << "trial " << trial;
  }
}

TEST(CheckpointSlices, InterleavedQkvShardIsThreeBoxes) {
  // d_model 4, tp 2: the fused qkv weight [12, 3]; rank 1 holds rows 2-3 of each of q, k, v.
  ParameterPlacement qkv;
  qkv.sharded = true;
  qkv.dim = 0;
  qkv.interleaved = 3;
  qkv.full_size = 12;
  const auto slices = globalSlicesOf({6, 3}, {12, 3}, qkv, /*tp_rank=*/1, /*tp=*/2, 0, 18);
  ASSERT_EQ(slices.size(), 3u);
  for (int j = 0; j < 3; ++j) {
    EXPECT_EQ(slices[j].slice.begin, (std::vector<std::int64_t>{4 * j + 2, 0}));
    EXPECT_EQ(slices[j].slice.size, (std::vector<std::int64_t>{2, 3}));
    EXPECT_TRUE(slices[j].slice.wholeBox());
    EXPECT_EQ(slices[j].values_offset, 6 * j);
  }
  // A ZeRO range from the middle of q's block into k's: two partial boxes.
  const auto range = globalSlicesOf({6, 3}, {12, 3}, qkv, 1, 2, 4, 5);
  ASSERT_EQ(range.size(), 2u);
  EXPECT_EQ(range[0].slice.begin[0], 2);
  EXPECT_EQ(range[0].slice.flat_begin, 4);
  EXPECT_EQ(range[0].slice.numel, 2);
  EXPECT_EQ(range[1].slice.begin[0], 6);
  EXPECT_EQ(range[1].slice.flat_begin, 0);
  EXPECT_EQ(range[1].slice.numel, 3);
  EXPECT_EQ(range[1].values_offset, 2);
}

TEST(CheckpointSlices, VocabularyPaddingRowsBelongToNoSlice) {
  // vocab 5 padded to 6 at tp 2: rank 1 holds rows 3, 4 and one padding row.
  ParameterPlacement embedding;
  embedding.sharded = true;
  embedding.dim = 0;
  embedding.full_size = 5;
  const auto slices = globalSlicesOf({3, 2}, {5, 2}, embedding, 1, 2, 0, 6);
  ASSERT_EQ(slices.size(), 1u);
  EXPECT_EQ(slices[0].slice.begin, (std::vector<std::int64_t>{3, 0}));
  EXPECT_EQ(slices[0].slice.size, (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(slices[0].slice.numel, 4);
  // A ZeRO range holding only padding: no slice at all.
  EXPECT_TRUE(globalSlicesOf({3, 2}, {5, 2}, embedding, 1, 2, 4, 2).empty());
}

TEST(CheckpointSlices, RowParallelShardIsAColumnBox) {
  ParameterPlacement row;
  row.sharded = true;
  row.dim = 1;
  row.full_size = 8;
  const auto slices = globalSlicesOf({3, 4}, {3, 8}, row, 1, 2, 0, 12);
  ASSERT_EQ(slices.size(), 1u);
  EXPECT_EQ(slices[0].slice.begin, (std::vector<std::int64_t>{0, 4}));
  EXPECT_EQ(slices[0].slice.size, (std::vector<std::int64_t>{3, 4}));
}

}  // namespace
}  // namespace behemoth
