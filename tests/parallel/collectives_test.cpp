// Plain collectives on real gloo process groups at 2 and 4 ranks; every rank checks its results
// against values it computes itself from every rank's (deterministic) input.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <vector>

#include "parallel/world.h"
#include "tests/parallel/rank_checks.h"
#include "tests/support/multiprocess.h"

namespace behemoth {
namespace {

class Collectives : public ::testing::TestWithParam<int> {};

TEST_P(Collectives, AllReduceSumAvgMaxMinAndBytes) {
  const int n = GetParam();
  auto run = runOnRanks(n, [n](const WorldInfo& info) {
    ProcessWorld world(info, dataParallelPlan(n));
    Group& group = world.group(Axis::dp);
    requireEq(group.size(), n, "group size");
    requireEq(group.rank(), info.rank, "group rank");
    requireEq(group.label(), std::string("dp"), "label");

    std::vector<at::Tensor> inputs;
    for (int r = 0; r < n; ++r) inputs.push_back(rankTensor(r, {3, 4}));
    const at::Tensor all = at::stack(inputs);

    at::Tensor sum = inputs[info.rank].clone();
    group.allReduce(sum);
    requireEqual(sum, all.sum(0), "sum");
    requireEq(world.counter().byLabel().at("dp"), 2 * (n - 1) * 48 / n, "bytes of one 48-byte all_reduce");

    at::Tensor avg = inputs[info.rank].clone();
    group.allReduce(avg, ReduceOp::Avg);
    requireEqual(avg, all.sum(0) / n, "avg");
    at::Tensor max = inputs[info.rank].clone();
    group.allReduce(max, ReduceOp::Max);
    requireEqual(max, std::get<0>(all.max(0)), "max");
    at::Tensor min = inputs[info.rank].clone();
    group.allReduce(min, ReduceOp::Min);
    requireEqual(min, std::get<0>(all.min(0)), "min");
    requireEq(world.counter().total(), 4 * (2 * (n - 1) * 48 / n), "bytes of four all_reduces");

    // A non-contiguous view is reduced in place through a staging copy.
    at::Tensor base = inputs[info.rank].clone();
    at::Tensor view = base.t();
    group.allReduce(view);
    requireEqual(base, all.sum(0), "transposed view reduced in place");

    // bf16 (gloo has no bf16 arithmetic): integer values stay exact.
    at::Tensor half = inputs[info.rank].to(at::kBFloat16);
    group.allReduce(half);
    requireEqual(half, all.sum(0).to(at::kBFloat16), "bf16 sum");
  });
  EXPECT_TRUE(expectAllRanksOk(run));
}

TEST_P(Collectives, AllReduceAsyncOverlapsAndWaits) {
  const int n = GetParam();
  auto run = runOnRanks(n, [n](const WorldInfo& info) {
    ProcessWorld world(info, dataParallelPlan(n));
    Group& group = world.world();
    at::Tensor expected = at::zeros({1000});
    for (int r = 0; r < n; ++r) expected += rankTensor(r, {1000});
    at::Tensor first = rankTensor(info.rank, {1000});
    at::Tensor second = rankTensor(info.rank, {1000}).to(at::kBFloat16);
    {
      PendingWork a = group.allReduceAsync(first);
      PendingWork b = group.allReduceAsync(second);
      a.wait();
      requireEqual(first, expected, "async sum after wait");
      // b is waited by its destructor; bf16 results are copied back there.
    }
    requireEqual(second, expected.to(at::kBFloat16), "async bf16 sum after destructor");
    requireEq(world.counter().byLabel().at("world"), 2 * (n - 1) * 4000 / n + 2 * (n - 1) * 2000 / n, "bytes");
  });
  EXPECT_TRUE(expectAllRanksOk(run));
}

TEST_P(Collectives, AllGatherReduceScatterAllToAllBroadcast) {
  const int n = GetParam();
  auto run = runOnRanks(n, [n](const WorldInfo& info) {
    ProcessWorld world(info, dataParallelPlan(n));
    Group& group = world.group(Axis::dp);
    const int me = info.rank;
    std::vector<at::Tensor> inputs;
    for (int r = 0; r < n; ++r) inputs.push_back(rankTensor(r, {2 * n, 3}));

    requireEqual(group.allGather(inputs[me], 1), at::cat(inputs, 1), "all_gather dim 1");
    requireEqual(group.allGather(inputs[me], 0), at::cat(inputs, 0), "all_gather dim 0");
    requireEqual(group.allGather(inputs[me].to(at::kBFloat16), -1), at::cat(inputs, 1).to(at::kBFloat16),
                 "all_gather bf16 dim -1");
    const int64_t bytes = 2 * n * 3 * 4;
    int64_t expected_bytes = 2 * ((n - 1) * (bytes * n) / n) + (n - 1) * (bytes / 2 * n) / n;
    requireEq(world.counter().total(), expected_bytes, "all_gather bytes");

    at::Tensor sum = at::zeros({2 * n, 3});
    for (const at::Tensor& input : inputs) sum += input;
    requireEqual(group.reduceScatter(inputs[me], 0), sum.chunk(n, 0)[me], "reduce_scatter dim 0");
    expected_bytes += (n - 1) * bytes / n;
    requireEq(world.counter().total(), expected_bytes, "reduce_scatter bytes");

    // all_to_all: chunk i along dim 0 goes to rank i; what arrives is concatenated along dim 1.
    std::vector<at::Tensor> arriving;
    for (int source = 0; source < n; ++source) arriving.push_back(inputs[source].chunk(n, 0)[me]);
    requireEqual(group.allToAll(inputs[me], 0, 1), at::cat(arriving, 1), "all_to_all 0 -> 1");
    expected_bytes += (n - 1) * bytes / n;
    requireEq(world.counter().total(), expected_bytes, "all_to_all bytes");

    at::Tensor broadcasted = inputs[me].clone();
    group.broadcast(broadcasted, n - 1);
    requireEqual(broadcasted, inputs[n - 1], "broadcast from the last rank");
    requireEq(world.counter().total(), expected_bytes + bytes, "broadcast bytes");
    group.barrier();

    bool threw = false;
    try {
      group.reduceScatter(rankTensor(me, {2 * n + 1, 3}), 0);
    } catch (const std::invalid_argument& error) {
      threw = std::string(error.what()).find("not divisible by the group size") != std::string::npos;
    }
    requireTrue(threw, "reduce_scatter of an indivisible dim throws invalid_argument");
  });
  EXPECT_TRUE(expectAllRanksOk(run));
}

TEST_P(Collectives, ReduceScatterAsyncSumsChunksAfterWait) {
  const int n = GetParam();
  auto run = runOnRanks(n, [n](const WorldInfo& info) {
    ProcessWorld world(info, dataParallelPlan(n));
    Group& group = world.group(Axis::dp);
    const int me = info.rank;
    std::vector<at::Tensor> rows;     // {2n, 3}: scattered along dim 0
    std::vector<at::Tensor> columns;  // {3, 4n}: scattered along dim 1
    for (int r = 0; r < n; ++r) {
      rows.push_back(rankTensor(r, {2 * n, 3}));
      columns.push_back(rankTensor(r, {3, 4 * n}));
    }
    const at::Tensor row_sum = at::stack(rows).sum(0);
    const at::Tensor column_sum = at::stack(columns).sum(0);

    // Three in flight at once; the inputs are overwritten before any wait (the call stages them).
    at::Tensor row_input = rows[me].clone();
    at::Tensor column_input = columns[me].clone();
    at::Tensor bf16_input = rows[me].to(at::kBFloat16);
    at::Tensor row_out, column_out, bf16_out;
    PendingWork a = group.reduceScatterAsync(row_input, 0, row_out);
    PendingWork b = group.reduceScatterAsync(column_input, -1, column_out);
    PendingWork c = group.reduceScatterAsync(bf16_input, 0, bf16_out);
    row_input.fill_(1e6);
    column_input.fill_(1e6);
    bf16_input.fill_(1e6);
    requireTrue(a.pending() && b.pending() && c.pending(), "all three still pending before wait");
    c.wait();
    b.wait();
    a.wait();
    requireEqual(row_out, row_sum.chunk(n, 0)[me], "reduce_scatter_async dim 0");
    requireEqual(column_out, column_sum.chunk(n, 1)[me], "reduce_scatter_async dim -1");
    requireEq(bf16_out.scalar_type(), at::kBFloat16, "output keeps the input dtype");
    requireEqual(bf16_out, row_sum.chunk(n, 0)[me].to(at::kBFloat16), "reduce_scatter_async bf16");

    // Bytes: exactly what reduceScatter counts, (n-1)/n of each full input.
    const int64_t row_bytes = 2 * n * 3 * 4;
    const int64_t column_bytes = 3 * 4 * n * 4;
    const int64_t expected = (n - 1) * row_bytes / n + (n - 1) * column_bytes / n + (n - 1) * (row_bytes / 2) / n;
    requireEq(world.counter().byLabel().at("dp"), expected, "reduce_scatter_async bytes");
    group.reduceScatter(rows[me], 0);
    requireEq(world.counter().byLabel().at("dp"), expected + (n - 1) * row_bytes / n, "same bytes as reduceScatter");

    bool threw = false;
    at::Tensor unused;
    try {
      group.reduceScatterAsync(rankTensor(me, {2 * n + 1, 3}), 0, unused);
    } catch (const std::invalid_argument& error) {
      threw = std::string(error.what()).find("not divisible by the group size") != std::string::npos;
    }
    requireTrue(threw, "reduce_scatter_async of an indivisible dim throws invalid_argument");
  });
  EXPECT_TRUE(expectAllRanksOk(run));
}

INSTANTIATE_TEST_SUITE_P(Ranks, Collectives, ::testing::Values(2, 4));

TEST(Collectives, SingleRankGroupsAreLocalNoOpsWithoutAStore) {
  // No runOnRanks: a world of one needs no rendezvous at all (store_path and port are unset).
  WorldInfo info;
  ProcessWorld world(info, dataParallelPlan(1));
  Group& group = world.group({Axis::dp, Axis::tp});
  EXPECT_EQ(group.size(), 1);
  EXPECT_EQ(group.label(), "dp+tp");
  at::Tensor x = rankTensor(0, {4, 2});
  const at::Tensor original = x.clone();
  group.allReduce(x, ReduceOp::Avg);
  EXPECT_TRUE(at::equal(x, original));
  EXPECT_TRUE(at::equal(group.allGather(x, 0), original));
  EXPECT_TRUE(at::equal(group.reduceScatter(x, 1), original));
  EXPECT_TRUE(at::equal(group.allToAll(x, 0, 1), original));
  group.allReduceAsync(x).wait();
  at::Tensor scattered;
  PendingWork done = group.reduceScatterAsync(x, 0, scattered);
  EXPECT_FALSE(done.pending());
  EXPECT_TRUE(at::equal(scattered, original));
  group.broadcast(x, 0);
  group.barrier();
  EXPECT_TRUE(at::equal(x, original));
  EXPECT_EQ(world.counter().total(), 0);
  EXPECT_EQ(&world.group({Axis::tp, Axis::dp}), &group);  // cached under one label
}

TEST(Collectives, WorldRejectsAPlanOfAnotherSize) {
  WorldInfo info;
  info.world_size = 2;
  try {
    ProcessWorld world(info, dataParallelPlan(4));
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("the plan lays out 4 ranks"), std::string::npos) << error.what();
  }
}

// 2x2x2 (pp x dp x tp): each rank all-reduces its own rank number over several groups; the sums
// follow from the rank layout bits (tp = bit 0, dp = bit 1, pp = bit 2).
TEST(Collectives, MeshGroupsOnEightRanks) {
  auto run = runOnRanks(8, [](const WorldInfo& info) {
    Plan plan;
    plan.pp = 2;
    plan.tp = 2;
    plan.resolve(8);
    ProcessWorld world(info, plan);
    const int r = info.rank;
    auto reduced = [&](Group& group) {
      at::Tensor value = at::full({1}, static_cast<double>(r), at::kDouble);
      group.allReduce(value);
      return static_cast<int>(value.item<double>());
    };
    requireEq(reduced(world.group(Axis::tp)), r + (r ^ 1), "tp sum");
    requireEq(reduced(world.group(Axis::dp)), r + (r ^ 2), "dp sum");
    requireEq(reduced(world.group(Axis::pp)), r + (r ^ 4), "pp sum");
    requireEq(reduced(world.group({Axis::tp, Axis::dp})), 4 * (r & 4) + 6, "dp+tp sum");
    requireEq(reduced(world.world()), 28, "world sum");
    requireEq(world.group({Axis::dp, Axis::tp}).rank(), r & 3, "index inside dp+tp");
    const auto bytes = world.counter().byLabel();
    requireEq(bytes.at("tp"), 8, "tp bytes");        // 2*(2-1)*8/2
    requireEq(bytes.at("dp+tp"), 12, "dp+tp bytes");  // 2*(4-1)*8/4
    requireEq(bytes.at("world"), 14, "world bytes");  // 2*(8-1)*8/8
  });
  EXPECT_TRUE(expectAllRanksOk(run));
}

}  // namespace
}  // namespace behemoth
