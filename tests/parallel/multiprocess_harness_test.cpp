// The multi-rank harness itself: results come back, failures of every kind are reported with the
// rank and what it was doing, and nothing outlives its deadline.
#include "tests/support/multiprocess.h"

#include <ATen/ATen.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "parallel/activity.h"
#include "parallel/world.h"
#include "tests/parallel/rank_checks.h"

namespace behemoth {
namespace {

using Clock = std::chrono::steady_clock;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Blocks until `rank` has saved result `name` (or 20 s pass), so a rank can outlive a peer's failure.
void waitForResult(const WorldInfo& info, int rank, const std::string& name) {
  WorldInfo other = info;
  other.rank = rank;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (!std::filesystem::exists(rankResultPath(other, name)) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

TEST(MultiProcess, ResultsTravelBackAndTheDirectoryIsRemoved) {
  std::string directory;
  {
    auto run = runOnRanks(3, [](const WorldInfo& info) {
      requireEq(info.world_size, 3, "world size");
      saveRankTensor(info, "weights", at::arange(6, at::kFloat).reshape({2, 3}) * info.rank);
      saveRankTensor(info, "half", at::full({2}, 0.5 + info.rank, at::kBFloat16));
      saveRankDoubles(info, "losses", {1.5 * info.rank, -2.0, 1e-300});
      saveRankText(info, "note", "hello from " + std::to_string(info.rank));
    });
    ASSERT_TRUE(expectAllRanksOk(run));
    ASSERT_EQ(run.size(), 3u);
    directory = run.directory();
    for (int rank = 0; rank < 3; ++rank) {
      EXPECT_TRUE(at::equal(run.loadTensor(rank, "weights"), at::arange(6, at::kFloat).reshape({2, 3}) * rank));
      EXPECT_TRUE(at::equal(run.loadTensor(rank, "half"), at::full({2}, 0.5 + rank, at::kBFloat16)));
      EXPECT_EQ(run.loadDoubles(rank, "losses"), (std::vector<double>{1.5 * rank, -2.0, 1e-300}));
      EXPECT_EQ(run.loadText(rank, "note"), "hello from " + std::to_string(rank));
    }
    EXPECT_FALSE(run.hasResult(0, "missing"));
    EXPECT_THROW(run.loadTensor(0, "missing"), std::runtime_error);
    EXPECT_TRUE(std::filesystem::exists(directory));
  }
  EXPECT_FALSE(std::filesystem::exists(directory));
}

TEST(MultiProcess, AThrowingRankReportsItsMessage) {
  auto run = runOnRanks(2, [](const WorldInfo& info) {
    setActivity("about to fail");
    if (info.rank == 1) throw std::runtime_error("boom on rank 1");
  });
  ASSERT_EQ(run.size(), 2u);
  EXPECT_TRUE(run[0].ok) << run[0].message;
  EXPECT_FALSE(run[1].ok);
  EXPECT_EQ(run[1].message, "boom on rank 1");
  EXPECT_EQ(run[1].last_activity, "about to fail");
}

// A failed in-rank check must fail the gtest case, with the rank's message in the report.
bool all_ranks_ok_result = true;
void runWithAWrongExpectation() {
  all_ranks_ok_result = expectAllRanksOk(runOnRanks(2, [](const WorldInfo& info) {
    requireEqual(at::ones({2}) * info.rank, at::ones({2}), "deliberately wrong on rank 0");
  }));
}

TEST(MultiProcess, ExpectAllRanksOkFailsTheTestWithTheRankMessage) {
  EXPECT_NONFATAL_FAILURE(runWithAWrongExpectation(), "rank 0 failed: deliberately wrong on rank 0: got");
  EXPECT_FALSE(all_ranks_ok_result);
}

TEST(MultiProcess, GtestAssertionsInsideARankFailThatRank) {
  auto run = runOnRanks(2, [](const WorldInfo& info) {
    EXPECT_EQ(info.rank, 0) << "only rank 0 passes";
  });
  EXPECT_TRUE(run[0].ok) << run[0].message;
  ASSERT_FALSE(run[1].ok);
  EXPECT_TRUE(contains(run[1].message, "rank 1 failed a gtest assertion: ")) << run[1].message;
  EXPECT_TRUE(contains(run[1].message, "only rank 0 passes")) << run[1].message;
}

TEST(MultiProcess, CrashesAndExitCodesAreReported) {
  auto run = runOnRanks(3, [](const WorldInfo& info) {
    if (info.rank == 1) std::abort();
    if (info.rank == 2) _exit(3);
  });
  EXPECT_TRUE(run[0].ok) << run[0].message;
  EXPECT_FALSE(run[1].ok);
  EXPECT_TRUE(contains(run[1].message, "rank 1 was killed by signal 6")) << run[1].message;
  EXPECT_FALSE(run[2].ok);
  EXPECT_TRUE(contains(run[2].message, "rank 2 exited with code 3")) << run[2].message;
}

TEST(MultiProcess, ACollectiveWithAMissingPeerTimesOutNamingRankAxisOperationAndBytes) {
  const auto start = Clock::now();
  auto run = runOnRanks(
      2,
      [](const WorldInfo& info) {
        ProcessWorld world(info, dataParallelPlan(2));
        Group& dp = world.group(Axis::dp);
        dp.barrier();  // both ranks are connected
        if (info.rank == 1) {
          waitForResult(info, 0, "failed");  // never joins the all_reduce below
          return;
        }
        at::Tensor x = at::ones({1024});
        try {
          dp.allReduce(x);
        } catch (const std::exception&) {
          saveRankText(info, "failed", "yes");
          throw;
        }
      },
      std::chrono::seconds(30), std::chrono::milliseconds(1000));
  EXPECT_TRUE(run[1].ok) << run[1].message;
  ASSERT_FALSE(run[0].ok);
  EXPECT_TRUE(contains(run[0].message, "rank 0: all_reduce on axis dp (4096 bytes) timed out after 1 s")) << run[0].message;
  EXPECT_TRUE(contains(run[0].message, "a peer rank is missing or stuck")) << run[0].message;
  EXPECT_LT(secondsSince(start), 15.0);
}

TEST(MultiProcess, ARendezvousWithAMissingPeerTimesOut) {
  auto run = runOnRanks(
      2,
      [](const WorldInfo& info) {
        ProcessWorld world(info, dataParallelPlan(2));
        if (info.rank == 1) {
          waitForResult(info, 0, "failed");  // never creates the group
          return;
        }
        try {
          world.world();
        } catch (const std::exception&) {
          saveRankText(info, "failed", "yes");
          throw;
        }
      },
      std::chrono::seconds(30), std::chrono::milliseconds(1000));
  EXPECT_TRUE(run[1].ok) << run[1].message;
  ASSERT_FALSE(run[0].ok);
  EXPECT_TRUE(contains(run[0].message, "rank 0: rendezvous of world group (ranks 0,1) timed out after 1 s"))
      << run[0].message;
}

TEST(MultiProcess, APeerThatDiesMidJobIsReportedAsAClosedConnection) {
  auto run = runOnRanks(
      2,
      [](const WorldInfo& info) {
        ProcessWorld world(info, dataParallelPlan(2));
        Group& group = world.world();
        group.barrier();
        if (info.rank == 1) _exit(0);
        at::Tensor x = at::ones({256});
        group.allReduce(x);
      },
      std::chrono::seconds(30), std::chrono::milliseconds(10000));
  ASSERT_FALSE(run[0].ok);
  EXPECT_TRUE(contains(run[0].message, "rank 0: all_reduce on the world group (1024 bytes) failed: connection closed by peer"))
      << run[0].message;
  EXPECT_TRUE(contains(run[1].message, "rank 1 exited with code 0 before its function returned")) << run[1].message;
}

TEST(MultiProcess, TheHardDeadlineKillsTheGroupAndSaysWhatEveryRankWasDoing) {
  const auto start = Clock::now();
  auto run = runOnRanks(
      2,
      [](const WorldInfo& info) {
        ProcessWorld world(info, dataParallelPlan(2));
        Group& dp = world.group(Axis::dp);
        dp.barrier();
        if (info.rank == 1) {
          setActivity("sleeping on purpose");
          std::this_thread::sleep_for(std::chrono::seconds(60));
          return;
        }
        at::Tensor x = at::ones({16});
        dp.allReduce(x);
      },
      std::chrono::seconds(2), std::chrono::milliseconds(60000));
  const double elapsed = secondsSince(start);
  EXPECT_LT(elapsed, 6.0);
  EXPECT_GE(elapsed, 2.0);
  for (const RankOutcome& outcome : run) {
    EXPECT_FALSE(outcome.ok);
    EXPECT_EQ(outcome.message,
              "timed out after 2 s; rank 0: rank 0: all_reduce on axis dp (64 bytes); rank 1: sleeping on purpose");
  }
  EXPECT_EQ(run[0].last_activity, "rank 0: all_reduce on axis dp (64 bytes)");
}

}  // namespace
}  // namespace behemoth
