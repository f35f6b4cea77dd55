// ZeRO optimizer-state export and import: training 3 steps, saving the states, loading them in a
// fresh optimizer (same layout from the shards, another dp from the full state) and training 3 more
// steps lands exactly where 6 uninterrupted steps land. Every rank sees the same gradients, so
// the dp average is that gradient and a 1-rank run is the reference.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "parallel/world.h"
#include "parallel/zero/zero_optimizer.h"
#include "tests/parallel/rank_checks.h"
#include "tests/support/multiprocess.h"

namespace behemoth {
namespace {

const std::vector<std::vector<std::int64_t>> kShapes = {{5, 3}, {7}, {4, 2}};

std::vector<at::Tensor> makeParameters() {
  std::vector<at::Tensor> params;
  for (std::size_t k = 0; k < kShapes.size(); ++k) {
    const std::int64_t numel = at::empty(kShapes[k], at::kFloat).numel();
    params.push_back((at::arange(numel, at::kFloat) * 0.1 - 0.3 * static_cast<double>(k)).reshape(kShapes[k]).requires_grad_(true));
  }
  return params;
}

// Stage 3 here stands for stage 2 with offload: masters then live apart from the working weights.
ZeroOptions optionsFor(int stage) {
  ZeroOptions options;
  options.stage = stage == 3 ? 2 : stage;
  options.offload = stage == 3;
  options.overlap = false;
  options.bucket_bytes = 40;  // ten fp32 elements: several buckets, pieces split across ranks
  options.weight_decay = 0.1;
  return options;
}

// One optimizer step with a gradient that depends on the step only.
void trainStep(ZeroOptimizer& zero, std::vector<at::Tensor>& params, int stage, int step) {
  zero.zeroGrad();
  zero.beginBackward(true);
  for (std::size_t k = 0; k < params.size(); ++k) {
    const at::Tensor grad = at::sin(at::arange(params[k].numel(), at::kFloat) * 0.37 + static_cast<double>(k + step)).reshape(kShapes[k]);
    if (stage == 1) {
      params[k].mutable_grad().copy_(grad);
    } else {
      params[k].mutable_grad() = grad;
    }
  }
  zero.finishReduction();
  zero.step(/*lr=*/0.05, /*max_norm=*/0.0);
}

at::Tensor flatten(const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> flat;
  for (const auto& t : tensors) flat.push_back(t.detach().reshape({-1}));
  return at::cat(flat);
}

at::Tensor flatten(const FullOptimizerState& state) {
  std::vector<at::Tensor> flat;
  for (const auto& p : state.parameters) {
    for (const at::Tensor& t : {p.master, p.exp_avg, p.exp_avg_sq}) flat.push_back(t.reshape({-1}));
  }
  return at::cat(flat);
}

// Runs `before` steps from the start (or after `load`), saving the parameters, and the states.
template <typename Load>
RankRun train(int dp, int stage, int first_step, int steps, Load load) {
  return runOnRanks(dp, [=](const WorldInfo& info) {
    ProcessWorld world(info, dataParallelPlan(dp));
    std::vector<at::Tensor> params = makeParameters();
    ZeroOptimizer zero(params, {true, false, true}, world.group(Axis::dp), optionsFor(stage));
    load(zero, info.rank);
    for (int s = first_step; s < first_step + steps; ++s) trainStep(zero, params, stage, s);
    saveRankTensor(info, "params", flatten(params));
    const ShardedOptimizerState shard = zero.shardedState();
    saveRankTensor(info, "master", shard.master);
    saveRankTensor(info, "exp_avg", shard.exp_avg);
    saveRankTensor(info, "exp_avg_sq", shard.exp_avg_sq);
    saveRankTensor(info, "pieces", shard.pieces);
    saveRankDoubles(info, "step", {static_cast<double>(shard.step)});
    saveRankTensor(info, "full", flatten(zero.fullState()));
  });
}

void noLoad(ZeroOptimizer&, int) {}

ShardedOptimizerState loadShard(const RankRun& run, int rank, int dp) {
  ShardedOptimizerState shard;
  shard.step = static_cast<std::int64_t>(run.loadDoubles(rank, "step").at(0));
  shard.dp = dp;
  shard.rank = rank;
  shard.shapes = kShapes;
  shard.pieces = run.loadTensor(rank, "pieces");
  shard.master = run.loadTensor(rank, "master");
  shard.exp_avg = run.loadTensor(rank, "exp_avg");
  shard.exp_avg_sq = run.loadTensor(rank, "exp_avg_sq");
  return shard;
}

class ZeroOptimizerState : public testing::TestWithParam<int> {};

TEST_P(ZeroOptimizerState, SavedAndReloadedTrainingMatchesUninterruptedTraining) {
  const int stage = GetParam();
  const RankRun reference = train(1, stage, 0, 6, noLoad);
  const RankRun first_half = train(2, stage, 0, 3, noLoad);
  ASSERT_TRUE(expectAllRanksOk(reference));
  ASSERT_TRUE(expectAllRanksOk(first_half));
  const at::Tensor expected = reference.loadTensor(0, "params");

  // The shards of both ranks reassemble into the full state the collective export gave.
  const std::vector<ShardedOptimizerState> shards = {loadShard(first_half, 1, 2), loadShard(first_half, 0, 2)};
  const FullOptimizerState full = fullStateFromShards(shards);
  EXPECT_EQ(full.step, 3);
  EXPECT_TRUE(at::equal(flatten(full), first_half.loadTensor(0, "full")));
  EXPECT_TRUE(at::equal(flatten(full), first_half.loadTensor(1, "full")));

  // Same layout, from each rank's own shard.
  const RankRun from_shards = train(2, stage, 3, 3, [shards](ZeroOptimizer& zero, int rank) {
    zero.loadShardedState(shards[1 - rank]);
  });
  // Resharded: dp 4 (and another stage) from the full state.
  const RankRun resharded = train(4, stage == 1 ? 2 : 1, 3, 3, [full](ZeroOptimizer& zero, int) { zero.loadFullState(full); });
  ASSERT_TRUE(expectAllRanksOk(from_shards));
  ASSERT_TRUE(expectAllRanksOk(resharded));
  // AdamW is elementwise and every layout feeds each element the same gradient sequence, so the
  // continued runs equal the uninterrupted one exactly, on every rank.
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_TRUE(at::equal(from_shards.loadTensor(rank, "params"), expected)) << "from shards, rank " << rank;
  }
  for (int rank = 0; rank < 4; ++rank) {
    EXPECT_TRUE(at::equal(resharded.loadTensor(rank, "params"), expected)) << "resharded, rank " << rank;
    EXPECT_TRUE(at::equal(resharded.loadTensor(rank, "full"), reference.loadTensor(0, "full"))) << "rank " << rank;
  }
}

INSTANTIATE_TEST_SUITE_P(Stages, ZeroOptimizerState, testing::Values(1, 2, 3), [](const testing::TestParamInfo<int>& info) {
  return info.param == 3 ? std::string("stage2_offload") : "stage" + std::to_string(info.param);
});

TEST(ZeroOptimizerStateErrors, MismatchedShardsAreRejectedWithTheReason) {
  const RankRun run = train(2, 2, 0, 1, noLoad);
  ASSERT_TRUE(expectAllRanksOk(run));
  const ShardedOptimizerState shard0 = loadShard(run, 0, 2);
  try {
    fullStateFromShards({shard0});
    ADD_FAILURE() << "one of two shards was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_STREQ(error.what(), "optimizer state shards: 1 given, but they were written at dp 2");
  }
  try {
    fullStateFromShards({shard0, shard0});
    ADD_FAILURE() << "a repeated shard was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_STREQ(error.what(), "optimizer state shards: rank 0 is missing or repeated");
  }
  // A dp-2 shard in a dp-4 run: every rank refuses it, naming both layouts.
  const RankRun wrong = runOnRanks(4, [shard0](const WorldInfo& info) {
    ProcessWorld world(info, dataParallelPlan(4));
    std::vector<at::Tensor> params = makeParameters();
    ZeroOptimizer zero(params, {true, false, true}, world.group(Axis::dp), optionsFor(2));
    try {
      zero.loadShardedState(shard0);
    } catch (const std::invalid_argument& error) {
      saveRankText(info, "error", error.what());
    }
  });
  ASSERT_TRUE(expectAllRanksOk(wrong));
  EXPECT_EQ(wrong.loadText(2, "error"),
            "ZeRO optimizer state: a shard written at dp 2 rank 0 cannot load at dp 4 rank 2; reassemble the full state "
            "(fullStateFromShards) to change the layout");
}

}  // namespace
}  // namespace behemoth
