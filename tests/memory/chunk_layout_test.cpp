// The chunk layout packs tensors whole, in first-use order, into equal chunks whose capacity is a
// multiple of dp; flagged tensors go to one persistent chunk; the search finds the capacity with
// the least padding; impossible requests are refused naming the figures.
#include <gtest/gtest.h>

#include <stdexcept>

#include "memory/chunk_layout.h"

namespace behemoth {
namespace {

ChunkLayoutRequest request(std::vector<std::int64_t> numels, int dp, std::int64_t chunk) {
  ChunkLayoutRequest r;
  r.numels = std::move(numels);
  for (std::size_t k = 0; k < r.numels.size(); ++k) r.first_use.push_back(k);
  r.dp = dp;
  r.chunk_elements = chunk;
  return r;
}

TEST(ChunkLayout, PacksWholeTensorsInUseOrder) {
  ChunkLayoutRequest r = request({6, 4, 5, 3, 2}, 2, 10);
  r.first_use = {0, 1, 3, 2, 4};  // tensor 3 is used before tensor 2
  const ChunkLayout layout(r);
  ASSERT_EQ(layout.chunks().size(), 2u);
  // [6 + 4] fills the first chunk; [3 + 5 + 2] the second.
  EXPECT_EQ(layout.chunks()[0].numel, 10);
  EXPECT_EQ(layout.chunks()[1].members.size(), 3u);
  EXPECT_EQ(layout.chunks()[1].members[0].tensor, 3u);
  EXPECT_EQ(layout.chunks()[1].members[1].offset, 3);
  EXPECT_EQ(layout.chunkOf(2), 1u);
  EXPECT_EQ(layout.paddingElements(), 0);
  EXPECT_EQ(layout.shardElements(0), 5);
}

TEST(ChunkLayout, CapacityIsAMultipleOfDpAndPaddingIsCounted) {
  const ChunkLayout layout(request({7, 7, 7}, 4, 10));
  EXPECT_EQ(layout.chunkElements(), 12);  // 10 rounded up to a multiple of 4
  ASSERT_EQ(layout.chunks().size(), 3u);  // 7 + 7 > 12
  EXPECT_EQ(layout.paddingElements(), 3 * 12 - 21);
  EXPECT_EQ(layout.capacityElements(), 36);
}

TEST(ChunkLayout, FlaggedTensorsShareOnePersistentChunkAtTheEnd) {
  ChunkLayoutRequest r = request({100, 3, 100, 5}, 2, 128);
  r.keep_gathered = {false, true, false, true};
  const ChunkLayout layout(r);
  ASSERT_EQ(layout.chunks().size(), 3u);
  EXPECT_FALSE(layout.chunks()[0].persistent);
  EXPECT_TRUE(layout.chunks().back().persistent);
  EXPECT_EQ(layout.chunks().back().numel, 8);
  EXPECT_EQ(layout.chunks().back().capacity, 8);
  EXPECT_EQ(layout.chunkOf(3), 2u);
}

TEST(ChunkLayout, SearchFindsTheCapacityWithTheLeastPadding) {
  // 5 + 5 + 5 + 5: capacity 10 packs two pairs with no padding; 5 (the largest) also has none but
  // is tried first and kept only on a tie, so the smaller capacity wins.
  EXPECT_EQ(searchChunkElements({5, 5, 5, 5}, 1), 5);
  // 6 then 4, twice: capacity 6 wastes 2 + 2; capacity 10 wastes nothing.
  EXPECT_EQ(searchChunkElements({6, 4, 6, 4}, 1), 10);
  // Always a multiple of dp.
  EXPECT_EQ(searchChunkElements({6, 4, 6, 4}, 4) % 4, 0);
  const ChunkLayout searched(request({6, 4, 6, 4}, 1, 0));
  EXPECT_EQ(searched.paddingElements(), 0);
}

TEST(ChunkLayout, RefusesWhatCannotWork) {
  EXPECT_THROW(ChunkLayout(request({20, 3}, 2, 10)), std::invalid_argument);  // 20 > a chunk of 10
  try {
    ChunkLayout layout(request({20, 3}, 2, 10));
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("parallel.chunk_mb"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("20 elements"), std::string::npos);
  }
  ChunkLayoutRequest twice = request({4, 4}, 1, 8);
  twice.first_use = {0, 0};
  EXPECT_THROW(ChunkLayout{twice}, std::invalid_argument);
  EXPECT_THROW(ChunkLayout(request({4}, 0, 8)), std::invalid_argument);
}

}  // namespace
}  // namespace behemoth
