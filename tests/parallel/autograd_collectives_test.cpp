// Autograd-aware collectives: forward values and gradients on every rank equal the single-process
// math of the same total loss (sum over ranks of each rank's loss). Integer-valued fp32 data keeps
// every comparison exact.
#include "parallel/autograd_collectives.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/autograd.h>

#include <vector>

#include "parallel/world.h"
#include "tests/parallel/rank_checks.h"
#include "tests/support/multiprocess.h"

namespace behemoth {
namespace {

at::Tensor leaf(const at::Tensor& value) { return value.clone().set_requires_grad(true); }
at::Tensor weights(int rank, at::IntArrayRef sizes) { return rankTensor(rank + 11, sizes); }

void checkAll(int n, const WorldInfo& info) {
  ProcessWorld world(info, dataParallelPlan(n));
  Group& group = world.group(Axis::dp);
  const int me = info.rank;

  {  // copyToGroup: y = x on every rank; dL/dx = sum of every rank's weights.
    at::Tensor x = leaf(rankTensor(0, {2, 3}));
    at::Tensor y = copyToGroup(x, group);
    requireEqual(y.detach(), x.detach(), "copyToGroup forward");
    (y * weights(me, {2, 3})).sum().backward();
    at::Tensor expected = at::zeros({2, 3});
    for (int r = 0; r < n; ++r) expected += weights(r, {2, 3});
    requireEqual(x.grad(), expected, "copyToGroup grad");
  }
  {  // reduceFromGroup: y = sum_r x_r; dL/dx_me = w_me.
    at::Tensor x = leaf(rankTensor(me, {2, 3}));
    at::Tensor y = reduceFromGroup(x, group);
    at::Tensor expected = at::zeros({2, 3});
    for (int r = 0; r < n; ++r) expected += rankTensor(r, {2, 3});
    requireEqual(y.detach(), expected, "reduceFromGroup forward");
    (y * weights(me, {2, 3})).sum().backward();
    requireEqual(x.grad(), weights(me, {2, 3}), "reduceFromGroup grad");
  }
  std::vector<at::Tensor> parts;
  for (int r = 0; r < n; ++r) parts.push_back(rankTensor(r, {2, 3}));
  {  // gatherFromGroup: replicated loss on the gathered tensor; grad = my slice of the weights.
    at::Tensor x = leaf(parts[me]);
    at::Tensor y = gatherFromGroup(x, group, 1);
    requireEqual(y.detach(), at::cat(parts, 1), "gatherFromGroup forward");
    const at::Tensor w = weights(0, {2, 3 * n});  // identical on all ranks
    (y * w).sum().backward();
    requireEqual(x.grad(), w.chunk(n, 1)[me], "gatherFromGroup grad");
  }
  {  // allGatherWithReduceScatterGrad: per-rank losses; grad = my slice of the sum of weights.
    at::Tensor x = leaf(parts[me]);
    at::Tensor y = allGatherWithReduceScatterGrad(x, group, 0);
    requireEqual(y.detach(), at::cat(parts, 0), "allGatherWithReduceScatterGrad forward");
    (y * weights(me, {2 * n, 3})).sum().backward();
    at::Tensor total = at::zeros({2 * n, 3});
    for (int r = 0; r < n; ++r) total += weights(r, {2 * n, 3});
    requireEqual(x.grad(), total.chunk(n, 0)[me], "allGatherWithReduceScatterGrad grad");
  }
  {  // scatterToGroup: x replicated; rank r keeps chunk r; grad = every rank's weights, gathered.
    at::Tensor x = leaf(rankTensor(0, {3, 2 * n}));
    at::Tensor y = scatterToGroup(x, group, 1);
    requireEqual(y.detach(), x.detach().chunk(n, 1)[me], "scatterToGroup forward");
    (y * weights(me, {3, 2})).sum().backward();
    std::vector<at::Tensor> all_weights;
    for (int r = 0; r < n; ++r) all_weights.push_back(weights(r, {3, 2}));
    requireEqual(x.grad(), at::cat(all_weights, 1), "scatterToGroup grad");
  }
  {  // reduceScatterToGroup: y_me = chunk me of sum_r x_r; grad x_me = all weights gathered.
    std::vector<at::Tensor> inputs;
    at::Tensor sum = at::zeros({2 * n, 3});
    for (int r = 0; r < n; ++r) {
      inputs.push_back(rankTensor(r, {2 * n, 3}));
      sum += inputs.back();
    }
    at::Tensor x = leaf(inputs[me]);
    at::Tensor y = reduceScatterToGroup(x, group, 0);
    requireEqual(y.detach(), sum.chunk(n, 0)[me], "reduceScatterToGroup forward");
    (y * weights(me, {2, 3})).sum().backward();
    std::vector<at::Tensor> all_weights;
    for (int r = 0; r < n; ++r) all_weights.push_back(weights(r, {2, 3}));
    requireEqual(x.grad(), at::cat(all_weights, 0), "reduceScatterToGroup grad");
  }
  {  // allToAllInGroup(split 0, concat 1): chunk i of x_r lands on rank i at column block r.
    std::vector<at::Tensor> inputs;
    for (int r = 0; r < n; ++r) inputs.push_back(rankTensor(r, {2 * n, 3}));
    at::Tensor x = leaf(inputs[me]);
    at::Tensor y = allToAllInGroup(x, group, 0, 1);
    std::vector<at::Tensor> arriving;
    for (int source = 0; source < n; ++source) arriving.push_back(inputs[source].chunk(n, 0)[me]);
    requireEqual(y.detach(), at::cat(arriving, 1), "allToAllInGroup forward");
    (y * weights(me, {2, 3 * n})).sum().backward();
    std::vector<at::Tensor> grad_chunks;
    for (int target = 0; target < n; ++target) grad_chunks.push_back(weights(target, {2, 3 * n}).chunk(n, 1)[me]);
    requireEqual(x.grad(), at::cat(grad_chunks, 0), "allToAllInGroup grad");
  }
}

TEST(AutogradCollectives, MatchSingleProcessMathOnTwoRanks) {
  EXPECT_TRUE(expectAllRanksOk(runOnRanks(2, [](const WorldInfo& info) { checkAll(2, info); })));
}

TEST(AutogradCollectives, MatchSingleProcessMathOnFourRanks) {
  EXPECT_TRUE(expectAllRanksOk(runOnRanks(4, [](const WorldInfo& info) { checkAll(4, info); })));
}

TEST(AutogradCollectives, SingleRankGroupIsIdentity) {
  WorldInfo info;
  ProcessWorld world(info, dataParallelPlan(1));
  Group& group = world.group(Axis::tp);
  at::Tensor x = leaf(rankTensor(0, {2, 4}));
  at::Tensor y = allGatherWithReduceScatterGrad(reduceFromGroup(copyToGroup(x, group), group), group, 1);
  y = allToAllInGroup(reduceScatterToGroup(scatterToGroup(gatherFromGroup(y, group, 0), group, 1), group, 0), group,
                      0, 1);
  requireEqual(y.detach(), x.detach(), "identity forward");
  (y * weights(0, {2, 4})).sum().backward();
  EXPECT_TRUE(at::equal(x.grad(), weights(0, {2, 4})));
}

}  // namespace
}  // namespace behemoth
