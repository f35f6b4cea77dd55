// Tensor-parallel serving over two real processes: rank 0 schedules and broadcasts every step, both
// ranks run it on their half of the heads and of the KV cache, and the greedy tokens equal those
// of the recomputing loop over the whole (unsharded) model.
#include <gtest/gtest.h>

#include "backend/parallelize/parallelize.h"
#include "tests/serve/serve_test_support.h"
#include "tests/support/multiprocess.h"

namespace behemoth {
namespace {

using namespace serve_test;

void expectTensorParallelGreedyParity(const ModelConfig& config) {
  const auto run = runOnRanks(2, [config](const WorldInfo& info) {
    Plan plan;
    plan.dp = 1;
    plan.tp = 2;
    ProcessWorld world(info, plan);
    const auto model = buildModel(config, 21);
    model->eval();
    parallelize(*model, world.group(Axis::tp), false);
    const SchedulerLimits limits = limitsFor(config);
    ServeModel serving(model, limits.kv_blocks, limits.block_tokens);
    Group& tp = world.group(Axis::tp);
    if (tp.rank() != 0) return followSteps(serving, tp);
    Scheduler scheduler(limits, nullptr);
    const std::vector<std::pair<int, int>> shapes{{3, 8}, {12, 6}, {1, 10}, {19, 4}, {6, 7}};
    std::vector<PlannedRequest> planned;
    std::vector<std::shared_ptr<RecordingListener>> listeners;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      GenerationRequest request;
      request.prompt = promptOf(shapes[i].first, static_cast<int>(i) + 5, config.vocab_size);
      request.max_tokens = shapes[i].second;
      request.sampling.temperature = 0.0;
      listeners.push_back(std::make_shared<RecordingListener>());
      request.listener = listeners.back();
      planned.push_back({static_cast<int>(i), request});
    }
    runRequests(scheduler, serving, planned, &tp);
    releaseFollowers(tp);
    const auto whole = buildModel(config, 21);
    whole->eval();
    for (std::size_t i = 0; i < planned.size(); ++i) {
      EXPECT_EQ(listeners[i]->tokens,
                recomputingGenerate(*whole, planned[i].request.prompt, planned[i].request.max_tokens))
          << "request " << i;
    }
  });
  EXPECT_TRUE(expectAllRanksOk(run));
}

TEST(TensorParallelServing, GptGreedyTokensEqualTheWholeModelsRecomputingLoop) { expectTensorParallelGreedyParity(tinyGpt()); }

TEST(TensorParallelServing, LlamaGqaGreedyTokensEqualTheWholeModelsRecomputingLoop) {
  expectTensorParallelGreedyParity(tinyLlamaGqa());
}

}  // namespace
}  // namespace behemoth
