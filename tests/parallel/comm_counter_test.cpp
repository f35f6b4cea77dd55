#include "parallel/comm_counter.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace behemoth {
namespace {

TEST(BusBytes, FollowTheRingModel) {
  EXPECT_EQ(allReduceBusBytes(4096, 4), 6144);     // 2*3*4096/4
  EXPECT_EQ(allReduceBusBytes(4096, 1), 0);
  EXPECT_EQ(allReduceBusBytes(100, 3), 133);       // floor(400/3)
  EXPECT_EQ(reduceScatterBusBytes(4096, 4), 3072);
  EXPECT_EQ(allGatherBusBytes(4096, 2), 2048);
  EXPECT_EQ(allToAllBusBytes(10, 3), 6);           // floor(20/3)
  EXPECT_EQ(broadcastBusBytes(4096, 8), 4096);
  EXPECT_EQ(broadcastBusBytes(4096, 1), 0);
  // 64-bit: a 100 GB all-reduce over 1024 ranks must not overflow.
  EXPECT_EQ(allReduceBusBytes(100'000'000'000LL, 1024), 2LL * 1023 * 100'000'000'000LL / 1024);
  EXPECT_THROW(allReduceBusBytes(10, 0), std::invalid_argument);
}

// A 2-byte all-reduce on gloo sends the tensor zero-padded to a multiple of the group.
TEST(BusBytes, PaddedAllReduceCountsThePaddingItSends) {
  EXPECT_EQ(shardPaddedElements(7, 2), 8);
  EXPECT_EQ(shardPaddedElements(10, 4), 12);
  EXPECT_EQ(shardPaddedElements(12, 4), 12);
  EXPECT_EQ(shardPaddedElements(0, 3), 0);
  EXPECT_EQ(paddedAllReduceBusBytes(7, 2, 2), 16);   // 8 elements: all_to_all 8 + all_gather 8 bytes
  EXPECT_EQ(paddedAllReduceBusBytes(10, 2, 4), 36);  // 12 elements: 2*3*24/4
  EXPECT_EQ(paddedAllReduceBusBytes(12, 2, 4), allReduceBusBytes(24, 4));  // divisible: the plain formula
  EXPECT_EQ(paddedAllReduceBusBytes(7, 2, 1), 0);
  EXPECT_THROW(shardPaddedElements(7, 0), std::invalid_argument);
}

TEST(CommCounter, CountsPerLabelAndResetsOnTake) {
  CommCounter counter;
  counter.add("dp", 100);
  counter.add("tp", 7);
  counter.add("dp", 5);
  EXPECT_EQ(counter.total(), 112);
  EXPECT_EQ(counter.byLabel(), (std::map<std::string, int64_t>{{"dp", 105}, {"tp", 7}}));
  EXPECT_EQ(counter.takeTotal(), 112);
  EXPECT_EQ(counter.total(), 0);
  EXPECT_TRUE(counter.byLabel().empty());
  counter.add("world", 3);
  counter.reset();
  EXPECT_EQ(counter.total(), 0);
}

TEST(CommCounter, IsThreadSafe) {
  CommCounter counter;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&counter] {
      for (int i = 0; i < 10000; ++i) counter.add("dp", 3);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(counter.total(), 4 * 10000 * 3);
  EXPECT_EQ(counter.byLabel().at("dp"), 4 * 10000 * 3);
}

}  // namespace
}  // namespace behemoth
