// bf16 and fp16 reductions on gloo (parallel/two_byte_reduction.h): the 2-byte values travel, each
// element is accumulated in fp32 in rank order and rounded once, on every rank alike, and the bytes
// counted are the bytes sent, padding included. Every rank checks its result against a scalar
// reference it computes itself from every rank's (deterministic) input.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "parallel/comm_counter.h"
#include "parallel/world.h"
#include "tests/parallel/rank_checks.h"
#include "tests/support/multiprocess.h"

namespace behemoth {
namespace {

const char* opName(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Avg: return "avg";
    case ReduceOp::Max: return "max";
    case ReduceOp::Min: return "min";
  }
  return "?";
}

// Values exact in `dtype`, different on every rank and element, of mixed sign and magnitude so
// that sums need rounding.
at::Tensor rankValues(int rank, int64_t numel, at::ScalarType dtype) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(1000 + rank);
  return (at::randn({numel}, generator, at::kFloat) * 37.0).to(dtype);
}

// The documented result, element by element in scalar float arithmetic: rank 0's value, then
// ranks 1..n-1 added (or max/min) in order, the average divided in fp32, one rounding at the end.
at::Tensor reference(const std::vector<at::Tensor>& inputs, ReduceOp op) {
  const at::ScalarType dtype = inputs.front().scalar_type();
  std::vector<at::Tensor> floats;
  for (const at::Tensor& input : inputs) floats.push_back(input.to(at::kFloat).contiguous());
  const int64_t numel = floats.front().numel();
  at::Tensor result = at::empty({numel}, at::kFloat);
  for (int64_t i = 0; i < numel; ++i) {
    float accumulator = floats[0].data_ptr<float>()[i];
    for (std::size_t r = 1; r < floats.size(); ++r) {
      const float value = floats[r].data_ptr<float>()[i];
      if (op == ReduceOp::Max) {
        accumulator = std::max(accumulator, value);
      } else if (op == ReduceOp::Min) {
        accumulator = std::min(accumulator, value);
      } else {
        accumulator += value;
      }
    }
    if (op == ReduceOp::Avg) accumulator /= static_cast<float>(floats.size());
    result.data_ptr<float>()[i] = accumulator;
  }
  return result.to(dtype);
}

std::vector<at::Tensor> everyRanksValues(int n, int64_t numel, at::ScalarType dtype) {
  std::vector<at::Tensor> inputs;
  for (int r = 0; r < n; ++r) inputs.push_back(rankValues(r, numel, dtype));
  return inputs;
}

class TwoByteReduction : public ::testing::TestWithParam<int> {};

TEST_P(TwoByteReduction, AllReduceRoundsAnFp32RankOrderReductionOnceAndCountsThePadding) {
  const int n = GetParam();
  auto run = runOnRanks(n, [n](const WorldInfo& info) {
    ProcessWorld world(info, dataParallelPlan(n));
    Group& group = world.group(Axis::dp);
    for (at::ScalarType dtype : {at::kBFloat16, at::kHalf}) {
      // 1 and 7 are not divisible by 2, 3 or 4; 12 is.
      for (int64_t numel : {int64_t{1}, int64_t{7}, int64_t{12}}) {
        const std::vector<at::Tensor> inputs = everyRanksValues(n, numel, dtype);
        for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Avg, ReduceOp::Max, ReduceOp::Min}) {
          const std::string what = std::string(c10::toString(dtype)) + " " + opName(op) + " of " +
                                   std::to_string(numel) + " on " + std::to_string(n) + " ranks";
          at::Tensor mine = inputs[info.rank].clone();
          world.counter().reset();
          group.allReduce(mine, op);
          requireEqual(mine, reference(inputs, op), what);
          // What the all_to_all and the all_gather send: 2*(n-1)/n of the zero-padded tensor.
          const int64_t padded = (numel + n - 1) / n * n;
          requireEq(world.counter().total(), 2 * (n - 1) * padded * 2 / n, what + ": bytes");
          if (numel % n == 0) requireEq(world.counter().total(), allReduceBusBytes(2 * numel, n), what + ": formula");
        }
      }
    }

    // A non-contiguous view is reduced in place, its padding never written back.
    const std::vector<at::Tensor> matrices = everyRanksValues(n, 15, at::kBFloat16);
    at::Tensor base = matrices[info.rank].reshape({3, 5}).clone();
    at::Tensor view = base.t();
    group.allReduce(view, ReduceOp::Avg);
    requireEqual(base, reference(matrices, ReduceOp::Avg).reshape({3, 5}), "transposed bf16 view averaged in place");
  });
  EXPECT_TRUE(expectAllRanksOk(run));
}

TEST_P(TwoByteReduction, AsyncAllReducesOverlapAndFinishInWait) {
  const int n = GetParam();
  auto run = runOnRanks(n, [n](const WorldInfo& info) {
    ProcessWorld world(info, dataParallelPlan(n));
    Group& group = world.world();
    const std::vector<at::Tensor> odd = everyRanksValues(n, 1001, at::kBFloat16);
    const std::vector<at::Tensor> even = everyRanksValues(n, 1200, at::kHalf);
    at::Tensor first = odd[info.rank].clone();
    at::Tensor second = even[info.rank].clone();
    {
      PendingWork a = group.allReduceAsync(first, ReduceOp::Avg);
      PendingWork b = group.allReduceAsync(second);
      requireTrue(a.pending() && b.pending(), "both pending before wait");
      b.wait();  // waited out of launch order: the same order on every rank is all that matters
      requireEqual(second, reference(even, ReduceOp::Sum), "async fp16 sum after wait");
      // a is waited by its destructor.
    }
    requireEqual(first, reference(odd, ReduceOp::Avg), "async bf16 average after the destructor");
    requireEq(world.counter().byLabel().at("world"),
              paddedAllReduceBusBytes(1001, 2, n) + paddedAllReduceBusBytes(1200, 2, n), "bytes");
  });
  EXPECT_TRUE(expectAllRanksOk(run));
}

TEST_P(TwoByteReduction, ReduceScatterSumsInFp32InRankOrder) {
  const int n = GetParam();
  auto run = runOnRanks(n, [n](const WorldInfo& info) {
    ProcessWorld world(info, dataParallelPlan(n));
    Group& group = world.group(Axis::dp);
    for (at::ScalarType dtype : {at::kBFloat16, at::kHalf}) {
      const std::vector<at::Tensor> inputs = everyRanksValues(n, 6 * n, dtype);
      const at::Tensor expected = reference(inputs, ReduceOp::Sum).reshape({2 * n, 3}).chunk(n, 0)[info.rank];
      const at::Tensor mine = inputs[info.rank].reshape({2 * n, 3});
      requireEqual(group.reduceScatter(mine, 0), expected, std::string(c10::toString(dtype)) + " reduce_scatter");
      at::Tensor out;
      group.reduceScatterAsync(mine, 0, out).wait();
      requireEqual(out, expected, std::string(c10::toString(dtype)) + " reduce_scatter_async");
    }
  });
  EXPECT_TRUE(expectAllRanksOk(run));
}

INSTANTIATE_TEST_SUITE_P(Ranks, TwoByteReduction, ::testing::Values(2, 3, 4));

// Four ranks add 1 + 3 small values that one 2-byte rounding keeps and per-hop 2-byte sums would
// lose: bf16 (8 significant bits) 1 + 2^-8 rounds to 1, but 1 + 3 * 2^-8 rounds up to 1 + 2^-6;
// fp16 (11 bits) likewise with 2^-11 and 1 + 2^-9.
TEST(TwoByteReductionOnFourRanks, OneRoundingKeepsWhatPerHopRoundingLoses) {
  auto run = runOnRanks(4, [](const WorldInfo& info) {
    ProcessWorld world(info, dataParallelPlan(4));
    Group& group = world.group(Axis::dp);
    struct Case {
      at::ScalarType dtype;
      double small;
      double sum;
    };
    for (const Case& c : {Case{at::kBFloat16, std::ldexp(1.0, -8), 1.0 + std::ldexp(1.0, -6)},
                          Case{at::kHalf, std::ldexp(1.0, -11), 1.0 + std::ldexp(1.0, -9)}}) {
      const double mine = info.rank == 0 ? 1.0 : c.small;
      requireTrue(at::full({1}, 1.0 + c.small, at::kFloat).to(c.dtype).item<double>() == 1.0,
                  "1 + small is not representable (the case means something)");
      at::Tensor sum = at::full({5}, mine, at::kFloat).to(c.dtype);
      group.allReduce(sum);
      requireEqual(sum, at::full({5}, c.sum, at::kFloat).to(c.dtype), std::string(c10::toString(c.dtype)) + " sum");
      // And the reduce-scatter that ZeRO uses: one element per rank.
      const at::Tensor shard = group.reduceScatter(at::full({4}, mine, at::kFloat).to(c.dtype), 0);
      requireEqual(shard, at::full({1}, c.sum, at::kFloat).to(c.dtype), std::string(c10::toString(c.dtype)) + " shard");
    }
  });
  EXPECT_TRUE(expectAllRanksOk(run));
}

}  // namespace
}  // namespace behemoth
