// The scheduler's bookkeeping: refusals name their reason, a full queue refuses at once, blocks
// return to the pool when a request ends in any way, and the block pool never hands one block out twice.
#include <gtest/gtest.h>

#include "backend/serve/kv_block_pool.h"
#include "backend/serve/serve_metrics.h"
#include "tests/serve/serve_test_support.h"

namespace behemoth {
namespace {

using namespace serve_test;

GenerationRequest requestOf(int prompt_length, int max_tokens, std::shared_ptr<RecordingListener> listener) {
  GenerationRequest request;
  request.prompt = promptOf(prompt_length, 0, 64);
  request.max_tokens = max_tokens;
  request.sampling.temperature = 0.0;
  request.listener = std::move(listener);
  return request;
}

TEST(KvBlockPool, HandsOutEveryBlockOnceAndRefusesADoubleFree) {
  KvBlockPool pool(4);
  const auto first = pool.allocate(3);
  ASSERT_TRUE(first);
  EXPECT_EQ(pool.inUse(), 3);
  EXPECT_FALSE(pool.allocate(2));  // one left: nothing is handed out
  EXPECT_EQ(pool.available(), 1);
  const auto second = pool.allocate(1);
  ASSERT_TRUE(second);
  std::vector<int> all = *first;
  all.push_back(second->front());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<int>{0, 1, 2, 3}));
  pool.release(*first);
  EXPECT_EQ(pool.inUse(), 1);
  EXPECT_THROW(pool.release(*first), std::logic_error);
  EXPECT_THROW(KvBlockPool(0), std::invalid_argument);
}

TEST(Scheduler, RefusesWhatCanNeverRunWithTheReason) {
  const SchedulerLimits limits = limitsFor(tinyGpt());  // seq_len 48
  Scheduler scheduler(limits, nullptr);
  const auto listener = std::make_shared<RecordingListener>();
  EXPECT_EQ(scheduler.refusal(requestOf(0, 4, listener)).value_or(""), "prompt: must not be empty");
  EXPECT_NE(scheduler.refusal(requestOf(40, 9, listener)).value_or("").find("exceed model.seq_len = 48"), std::string::npos);
  EXPECT_NE(scheduler.refusal(requestOf(4, 0, listener)).value_or("").find("max_tokens: 0 is outside"), std::string::npos);
  EXPECT_NE(scheduler.refusal(requestOf(4, 5000, listener)).value_or("").find("serve.max_tokens"), std::string::npos);
  EXPECT_FALSE(scheduler.refusal(requestOf(40, 8, listener)));
}

TEST(Scheduler, AFullQueueRefusesAtOnceAndAStoppedOneTakesNothing) {
  SchedulerLimits limits = limitsFor(tinyGpt());
  limits.max_queue = 2;
  Scheduler scheduler(limits, nullptr);
  const auto listener = std::make_shared<RecordingListener>();
  EXPECT_EQ(scheduler.submit(requestOf(3, 2, listener)), Scheduler::Submission::queued);
  EXPECT_EQ(scheduler.submit(requestOf(3, 2, listener)), Scheduler::Submission::queued);
  EXPECT_EQ(scheduler.submit(requestOf(3, 2, listener)), Scheduler::Submission::queue_full);
  scheduler.cancelAll();
  EXPECT_EQ(listener->finish, FinishReason::cancelled);
  EXPECT_EQ(scheduler.submit(requestOf(3, 2, listener)), Scheduler::Submission::closed);
}

TEST(Scheduler, AClientThatLeavesMidGenerationFreesItsBlocksAndOthersGoOn) {
  const ModelConfig config = tinyGpt();
  const auto model = buildModel(config, 2);
  model->eval();
  const SchedulerLimits limits = limitsFor(config);
  ServeModel serving(model, limits.kv_blocks, limits.block_tokens);
  ServeMetrics metrics;
  Scheduler scheduler(limits, &metrics);
  const auto leaving = std::make_shared<RecordingListener>();
  const auto staying = std::make_shared<RecordingListener>();
  int blocks_while_both_ran = 0;
  runRequests(scheduler, serving, {{0, requestOf(10, 30, leaving)}, {0, requestOf(5, 12, staying)}}, nullptr, [&](int step) {
    if (step == 4) {
      blocks_while_both_ran = scheduler.load().blocks_in_use;
      leaving->cancel = true;
    }
  });
  EXPECT_EQ(leaving->finish, FinishReason::cancelled);
  EXPECT_LT(leaving->tokens.size(), 30u);
  EXPECT_EQ(staying->tokens, recomputingGenerate(*model, requestOf(5, 12, staying).prompt, 12));
  EXPECT_GT(blocks_while_both_ran, 0);
  EXPECT_EQ(scheduler.load().blocks_in_use, 0);
  const std::string text = metrics.prometheusText();
  EXPECT_NE(text.find("behemoth_requests_total{outcome=\"cancelled\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("behemoth_requests_total{outcome=\"ok\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("behemoth_generated_tokens_total " + std::to_string(12 + leaving->tokens.size())), std::string::npos);
  EXPECT_NE(text.find("behemoth_time_to_first_token_seconds_count 2"), std::string::npos) << text;
}

TEST(Scheduler, ARequestWaitsForBlocksRatherThanOvercommittingTheCache) {
  const ModelConfig config = tinyGpt();
  const auto model = buildModel(config, 4);
  model->eval();
  SchedulerLimits limits = limitsFor(config);
  limits.kv_blocks = 12;  // 48 tokens: one long request at a time
  ServeModel serving(model, limits.kv_blocks, limits.block_tokens);
  Scheduler scheduler(limits, nullptr);
  const auto first = std::make_shared<RecordingListener>();
  const auto second = std::make_shared<RecordingListener>();
  int most_running = 0;
  runRequests(scheduler, serving, {{0, requestOf(20, 20, first)}, {0, requestOf(20, 20, second)}}, nullptr,
              [&](int) { most_running = std::max(most_running, scheduler.load().running); });
  EXPECT_EQ(most_running, 1);
  EXPECT_EQ(first->tokens.size(), 20u);
  EXPECT_EQ(second->tokens, first->tokens);  // the same prompt, greedy
}

}  // namespace
}  // namespace behemoth
