// parallel.reduce_dtype: gradients travel over dp in the configured dtype, whatever the working
// dtype. On two ranks, rank 0's gradient 1 + 2^-10 is not a bf16 value (bf16 keeps 8 significant
// bits, so it rounds to 1) and rank 1's gradient 3 is: the dp average is 2 + 2^-11 when reduced
// in fp32 and exactly 2 when reduced in bf16. On four ranks ranks 1-3 send 2^-8: the fp32 average
// is (1 + 2^-10 + 3 * 2^-8) / 4; in bf16, (1 + 3 * 2^-8) / 4 accumulated in fp32 and rounded once
// is 0.25390625 (a sum rounded to bf16 after every addition would stay at 1 and give 0.25). The
// bytes each collective moves follow the dtype, padding included where the ranks do not divide a
// buffer: bf16 moves exactly half the bytes of fp32 wherever no padding is needed.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "parallel/comm_counter.h"
#include "parallel/gradient_buckets.h"
#include "parallel/world.h"
#include "parallel/zero/test_hooks.h"
#include "parallel/zero/zero_optimizer.h"
#include "tests/parallel/rank_checks.h"
#include "tests/support/multiprocess.h"

namespace behemoth {
namespace {

constexpr std::int64_t kNumel = 8;
const double kOffGrid = 1.0 + std::ldexp(1.0, -10);

double rankGradient(int rank, int ranks = 2) {
  if (rank == 0) return kOffGrid;
  return ranks == 2 ? 3.0 : std::ldexp(1.0, -8);
}

double expectedAverage(at::ScalarType reduce_dtype, int ranks = 2) {
  if (ranks == 2) return reduce_dtype == at::kFloat ? (kOffGrid + 3.0) / 2 : 2.0;
  return reduce_dtype == at::kFloat ? (kOffGrid + 3 * std::ldexp(1.0, -8)) / 4 : 0.25390625;
}

at::Tensor parameter(std::int64_t numel = kNumel) { return at::zeros({numel}, at::kFloat).requires_grad_(true); }

TEST(ReduceDtype, DataParallelBucketsReduceInTheConfiguredDtype) {
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    auto run = runOnRanks(2, [dtype](const WorldInfo& info) {
      ProcessWorld world(info, dataParallelPlan(2));
      at::Tensor param = parameter();
      GradientBuckets buckets({param}, world.group(Axis::dp), 1 << 20, /*overlap=*/false, dtype);
      const auto element = static_cast<std::int64_t>(c10::elementSize(dtype));
      requireEq(buckets.gradientBytes(), kNumel * element, "gradient bytes");
      buckets.zeroGrad();
      buckets.beginBackward(true);
      // The parameter's grad is a view into the bucket: this stands in for backward's result.
      param.mutable_grad().fill_(rankGradient(info.rank));
      world.counter().reset();
      buckets.finishReduction();
      requireEqual(param.grad(), at::full({kNumel}, expectedAverage(dtype), at::kFloat), "averaged gradient");
      requireEq(world.counter().total(), allReduceBusBytes(kNumel * element, 2), "all-reduce bytes");
    });
    ASSERT_TRUE(expectAllRanksOk(run)) << c10::toString(dtype);
  }
}

TEST(ReduceDtype, ZeroStagesReduceScatterInTheConfiguredDtype) {
  for (int stage : {1, 2}) {
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
      auto run = runOnRanks(2, [stage, dtype](const WorldInfo& info) {
        ProcessWorld world(info, dataParallelPlan(2));
        at::Tensor param = parameter();
        ZeroOptions options;
        options.stage = stage;
        options.overlap = false;
        options.comm_dtype = dtype;
        ZeroOptimizer zero({param}, {false}, world.group(Axis::dp), options);
        at::Tensor seen;
        setZeroGradientHookForTesting([&seen](int, std::int64_t, at::Tensor& shard) { seen = shard.clone(); });
        zero.zeroGrad();
        zero.beginBackward(true);
        // Stage 1 keeps the grad as a view into its bucket; stage 2 reads whatever grad backward left.
        if (stage == 1) {
          param.mutable_grad().fill_(rankGradient(info.rank));
        } else {
          param.mutable_grad() = at::full({kNumel}, rankGradient(info.rank), at::kFloat);
        }
        world.counter().reset();
        zero.finishReduction();
        const std::int64_t reduce_bytes = world.counter().total();
        zero.step(/*lr=*/0.0, /*max_norm=*/0.0);
        setZeroGradientHookForTesting(nullptr);
        requireTrue(seen.defined(), "the gradient hook saw the shard");
        requireEqual(seen, at::full({kNumel / 2}, expectedAverage(dtype), at::kFloat), "this rank's reduced shard");
        const auto element = static_cast<std::int64_t>(c10::elementSize(dtype));
        requireEq(reduce_bytes, reduceScatterBusBytes(kNumel * element, 2), "reduce-scatter bytes");
      });
      ASSERT_TRUE(expectAllRanksOk(run)) << "stage " << stage << " " << c10::toString(dtype);
    }
  }
}

// Buffers the ranks do not divide (7 elements on 2 ranks, 10 on 4): the values are the same, and
// a bf16 all-reduce, which travels as an all_to_all plus an all_gather of the buffer zero-padded to
// 8 or 12 elements, counts the padding it sends; the fp32 all-reduce is gloo's own, unpadded.
TEST(ReduceDtype, DataParallelBucketsOfIndivisibleSizeOnTwoAndFourRanks) {
  struct Case {
    int ranks;
    std::int64_t numel;
    std::int64_t fp32_bytes;  // 2 * (n - 1) / n * 4 * numel
    std::int64_t bf16_bytes;  // 2 * (n - 1) / n * 2 * padded numel
  };
  for (const Case c : {Case{2, 7, 28, 16}, Case{4, 10, 60, 36}}) {
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
      auto run = runOnRanks(c.ranks, [c, dtype](const WorldInfo& info) {
        ProcessWorld world(info, dataParallelPlan(c.ranks));
        at::Tensor param = parameter(c.numel);
        GradientBuckets buckets({param}, world.group(Axis::dp), 1 << 20, /*overlap=*/false, dtype);
        buckets.zeroGrad();
        buckets.beginBackward(true);
        param.mutable_grad().fill_(rankGradient(info.rank, c.ranks));
        world.counter().reset();
        buckets.finishReduction();
        requireEqual(param.grad(), at::full({c.numel}, expectedAverage(dtype, c.ranks), at::kFloat), "averaged gradient");
        const std::int64_t expected = dtype == at::kFloat ? c.fp32_bytes : c.bf16_bytes;
        requireEq(world.counter().total(), expected, "all-reduce bytes");
        requireEq(expected, dtype == at::kFloat ? allReduceBusBytes(4 * c.numel, c.ranks)
                                                : paddedAllReduceBusBytes(c.numel, 2, c.ranks),
                  "the counter's formula");
      });
      ASSERT_TRUE(expectAllRanksOk(run)) << c.ranks << " ranks, " << c10::toString(dtype);
    }
  }
}

// ZeRO on four ranks with 10 elements: the buffer is padded to 12 (shards of 3); rank 3's shard
// holds element 9 and two zeros. bf16 reduce-scatters exactly half the bytes of fp32.
TEST(ReduceDtype, ZeroStagesOnFourRanksWithAPaddedBuffer) {
  constexpr int kRanks = 4;
  constexpr std::int64_t kElements = 10;
  constexpr std::int64_t kShard = 3;
  for (int stage : {1, 2}) {
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
      auto run = runOnRanks(kRanks, [stage, dtype](const WorldInfo& info) {
        ProcessWorld world(info, dataParallelPlan(kRanks));
        at::Tensor param = parameter(kElements);
        ZeroOptions options;
        options.stage = stage;
        options.overlap = false;
        options.comm_dtype = dtype;
        ZeroOptimizer zero({param}, {false}, world.group(Axis::dp), options);
        at::Tensor seen;
        setZeroGradientHookForTesting([&seen](int, std::int64_t, at::Tensor& shard) { seen = shard.clone(); });
        zero.zeroGrad();
        zero.beginBackward(true);
        if (stage == 1) {
          param.mutable_grad().fill_(rankGradient(info.rank, kRanks));
        } else {
          param.mutable_grad() = at::full({kElements}, rankGradient(info.rank, kRanks), at::kFloat);
        }
        world.counter().reset();
        zero.finishReduction();
        const std::int64_t reduce_bytes = world.counter().total();
        zero.step(/*lr=*/0.0, /*max_norm=*/0.0);
        setZeroGradientHookForTesting(nullptr);
        requireTrue(seen.defined(), "the gradient hook saw the shard");
        at::Tensor expected = at::full({kShard}, expectedAverage(dtype, kRanks), at::kFloat);
        for (std::int64_t i = 0; i < kShard; ++i) {
          if (info.rank * kShard + i >= kElements) expected[i] = 0.0;  // padding
        }
        requireEqual(seen, expected, "this rank's reduced shard");
        // 3/4 of the 12-element buffer: 36 bytes in fp32, 18 in bf16.
        requireEq(reduce_bytes, dtype == at::kFloat ? 36 : 18, "reduce-scatter bytes");
        requireEq(reduce_bytes, reduceScatterBusBytes(12 * static_cast<std::int64_t>(c10::elementSize(dtype)), kRanks),
                  "the counter's formula");
      });
      ASSERT_TRUE(expectAllRanksOk(run)) << "stage " << stage << " " << c10::toString(dtype);
    }
  }
}

}  // namespace
}  // namespace behemoth
