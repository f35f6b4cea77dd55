// The sp shards: contiguous for Ulysses, zigzag for ring; every position on exactly one rank.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <set>

#include "parallel/sequence_parallel/sequence_shard.h"

namespace behemoth {
namespace {

TEST(SequenceShard, ZigzagGivesEachRankAnEarlyAndALateChunk) {
  const SequenceSegments rank0 = sequenceShard(SequenceSplit::zigzag, 16, 4, 0);
  ASSERT_EQ(rank0.size(), 2u);
  EXPECT_EQ(rank0[0].start, 0);
  EXPECT_EQ(rank0[1].start, 14);
  const SequenceSegments rank3 = sequenceShard(SequenceSplit::zigzag, 16, 4, 3);
  EXPECT_EQ(rank3[0].start, 6);
  EXPECT_EQ(rank3[1].start, 8);
  EXPECT_TRUE(at::equal(positionsOf(rank3, at::TensorOptions()), at::tensor({6, 7, 8, 9})));
}

TEST(SequenceShard, EveryPositionBelongsToExactlyOneRank) {
  for (const SequenceSplit split : {SequenceSplit::contiguous, SequenceSplit::zigzag}) {
    std::multiset<std::int64_t> seen;
    for (int rank = 0; rank < 4; ++rank) {
      const at::Tensor positions = positionsOf(sequenceShard(split, 24, 4, rank), at::TensorOptions());
      EXPECT_EQ(positions.numel(), 6);
      for (std::int64_t k = 0; k < positions.numel(); ++k) seen.insert(positions[k].item<std::int64_t>());
    }
    ASSERT_EQ(seen.size(), 24u);
    for (std::int64_t p = 0; p < 24; ++p) EXPECT_EQ(seen.count(p), 1u) << p;
  }
}

TEST(SequenceShard, TakeAndSliceFollowTheSegments) {
  const at::Tensor full = at::arange(16).view({1, 16});
  const SequenceSegments shard = sequenceShard(SequenceSplit::zigzag, 16, 2, 1);  // chunks 1 and 2
  EXPECT_TRUE(at::equal(takeSegments(full, 1, shard), at::tensor({4, 5, 6, 7, 8, 9, 10, 11}).view({1, 8})));
  // Megatron-SP's tp slice [2, 6) of those 8 local tokens straddles the two chunks.
  const SequenceSegments slice = sliceSegments(shard, 2, 4);
  EXPECT_TRUE(at::equal(positionsOf(slice, at::TensorOptions()), at::tensor({6, 7, 8, 9})));
}

TEST(SequenceShard, UnevenLengthsAreRefusedByName) {
  EXPECT_THROW(sequenceShard(SequenceSplit::zigzag, 12, 4, 0), std::invalid_argument);
  EXPECT_THROW(sequenceShard(SequenceSplit::contiguous, 10, 4, 0), std::invalid_argument);
  EXPECT_THROW(sliceSegments(sequenceShard(SequenceSplit::contiguous, 8, 2, 0), 2, 4), std::invalid_argument);
}

}  // namespace
}  // namespace behemoth
