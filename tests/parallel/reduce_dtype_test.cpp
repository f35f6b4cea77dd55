// parallel.reduce_dtype: gradients travel over dp in the configured dtype, whatever the working
// dtype. On two ranks, rank 0's gradient 1 + 2^-10 is not a bf16 value (bf16 keeps 8 significant
// bits, so it rounds to 1) and rank 1's gradient 3 is: the dp average is 2 + 2^-11 when reduced
// in fp32 and exactly 2 when reduced in bf16. The bytes each collective moves follow the dtype.
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

double rankGradient(int rank) { return rank == 0 ? kOffGrid : 3.0; }

double expectedAverage(at::ScalarType reduce_dtype) {
  return reduce_dtype == at::kFloat ? (kOffGrid + 3.0) / 2 : 2.0;
}

at::Tensor parameter() { return at::zeros({kNumel}, at::kFloat).requires_grad_(true); }

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

}  // namespace
}  // namespace behemoth
