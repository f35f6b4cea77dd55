#include "parallel/mesh.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

namespace behemoth {
namespace {

Plan plan(int dp, int pp, int tp, int sp = 1, int ep = 1) {
  Plan p;
  p.dp = dp;
  p.pp = pp;
  p.tp = tp;
  p.sp = sp;
  p.ep = ep;
  return p;
}

TEST(Mesh, DefaultOrderPutsTensorParallelNeighboursAdjacent) {
  const Mesh mesh(plan(/*dp=*/2, /*pp=*/2, /*tp=*/2));  // order pp, dp, ep, sp, tp
  EXPECT_EQ(mesh.worldSize(), 8);
  EXPECT_EQ(mesh.groupRanks(0, {Axis::tp}), (std::vector<int>{0, 1}));
  EXPECT_EQ(mesh.groupRanks(3, {Axis::tp}), (std::vector<int>{2, 3}));
  EXPECT_EQ(mesh.groupRanks(5, {Axis::tp}), (std::vector<int>{4, 5}));
  EXPECT_EQ(mesh.groupRanks(7, {Axis::tp}), (std::vector<int>{6, 7}));
  EXPECT_EQ(mesh.groupRanks(1, {Axis::dp}), (std::vector<int>{1, 3}));
  EXPECT_EQ(mesh.groupRanks(4, {Axis::dp}), (std::vector<int>{4, 6}));
  EXPECT_EQ(mesh.groupRanks(2, {Axis::pp}), (std::vector<int>{2, 6}));
  EXPECT_EQ(mesh.groupRanks(5, {Axis::dp, Axis::tp}), (std::vector<int>{4, 5, 6, 7}));
  EXPECT_EQ(mesh.groupRanks(5, {Axis::tp, Axis::dp}), (std::vector<int>{4, 5, 6, 7}));
  EXPECT_EQ(mesh.groupRanks(2, {Axis::pp, Axis::tp}), (std::vector<int>{2, 3, 6, 7}));
  EXPECT_EQ(mesh.groupRanks(2, {Axis::sp}), (std::vector<int>{2}));
  EXPECT_EQ(mesh.indexInGroup(6, {Axis::dp, Axis::tp}), 2);

  const Mesh::Coordinates six = mesh.coordinates(6);
  EXPECT_EQ(six[static_cast<int>(Axis::pp)], 1);
  EXPECT_EQ(six[static_cast<int>(Axis::dp)], 1);
  EXPECT_EQ(six[static_cast<int>(Axis::tp)], 0);
  EXPECT_EQ(six[static_cast<int>(Axis::sp)], 0);
  EXPECT_EQ(mesh.rankAt(six), 6);
  EXPECT_EQ(mesh.describe(), "8 ranks: pp=2 x dp=2 x ep=1 x sp=1 x tp=2 (outermost first)");
}

TEST(Mesh, CustomOrderNestsAxesAsListed) {
  Plan p = plan(/*dp=*/3, /*pp=*/1, /*tp=*/2);
  p.order = {Axis::tp, Axis::dp, Axis::pp, Axis::ep, Axis::sp};  // rank = tp*3 + dp
  const Mesh mesh(p);
  EXPECT_EQ(mesh.groupRanks(0, {Axis::dp}), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(mesh.groupRanks(4, {Axis::dp}), (std::vector<int>{3, 4, 5}));
  EXPECT_EQ(mesh.groupRanks(1, {Axis::tp}), (std::vector<int>{1, 4}));
  EXPECT_EQ(mesh.indexInGroup(4, {Axis::tp}), 1);
  EXPECT_EQ(mesh.coordinates(5)[static_cast<int>(Axis::tp)], 1);
  EXPECT_EQ(mesh.coordinates(5)[static_cast<int>(Axis::dp)], 2);
}

// Every group of every rank, for every subset of axes, equals a brute-force search over all ranks.
TEST(Mesh, GroupsMatchBruteForceForEveryAxisSubset) {
  Plan p = plan(/*dp=*/2, /*pp=*/3, /*tp=*/2, /*sp=*/2, /*ep=*/1);
  p.order = {Axis::dp, Axis::sp, Axis::pp, Axis::ep, Axis::tp};
  const Mesh mesh(p);
  ASSERT_EQ(mesh.worldSize(), 24);
  for (int rank = 0; rank < mesh.worldSize(); ++rank) {
    ASSERT_EQ(mesh.rankAt(mesh.coordinates(rank)), rank);
    for (int subset = 1; subset < (1 << kAxisCount); ++subset) {
      std::vector<Axis> axes;
      for (int a = 0; a < kAxisCount; ++a) {
        if (subset & (1 << a)) axes.push_back(kAllAxes[a]);
      }
      std::vector<int> expected;
      for (int other = 0; other < mesh.worldSize(); ++other) {
        bool same = true;
        for (int a = 0; a < kAxisCount; ++a) {
          if (!(subset & (1 << a)) && mesh.coordinates(other)[a] != mesh.coordinates(rank)[a]) same = false;
        }
        if (same) expected.push_back(other);
      }
      ASSERT_EQ(mesh.groupRanks(rank, axes), expected) << "rank " << rank << " subset " << subset;
    }
  }
}

TEST(Mesh, RejectsUnresolvedPlansAndOutOfRangeRanks) {
  EXPECT_THROW(Mesh(plan(/*dp=*/-1, 1, 2)), std::invalid_argument);
  const Mesh mesh(plan(2, 1, 2));
  EXPECT_THROW(mesh.coordinates(4), std::out_of_range);
  EXPECT_THROW(mesh.coordinates(-1), std::out_of_range);
  EXPECT_THROW(mesh.rankAt({0, 0, 2, 0, 0}), std::out_of_range);
}

}  // namespace
}  // namespace behemoth
