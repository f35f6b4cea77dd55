// Serving computes what the model computes: greedy tokens through the paged KV cache, with
// sequences joining and leaving the batch mid-way and long prompts prefilled over several steps,
// equal token by token those of a loop that recomputes the whole sequence for every token.
#include <gtest/gtest.h>

#include "tests/serve/serve_test_support.h"

namespace behemoth {
namespace {

using namespace serve_test;

struct ArchCase {
  const char* name;
  ModelConfig (*config)();
};

class GreedyParity : public ::testing::TestWithParam<ArchCase> {};

TEST_P(GreedyParity, TokensEqualARecomputingLoopWhileSequencesJoinAndLeave) {
  const ModelConfig config = GetParam().config();
  const auto model = buildModel(config, 11);
  model->eval();
  ServeModel serving(model, limitsFor(config).kv_blocks, limitsFor(config).block_tokens);
  Scheduler scheduler(limitsFor(config), nullptr);
  // max_batch 3: three start, the rest wait in the queue and join as others finish; two arrive
  // while the first ones are generating. Prompt lengths cross block and prefill-chunk boundaries.
  const std::vector<std::pair<int, int>> shapes{{1, 9}, {5, 3}, {17, 12}, {8, 6}, {23, 5}, {4, 14}};
  std::vector<PlannedRequest> planned;
  std::vector<std::shared_ptr<RecordingListener>> listeners;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    GenerationRequest request;
    request.prompt = promptOf(shapes[i].first, static_cast<int>(i), config.vocab_size);
    request.max_tokens = shapes[i].second;
    request.sampling.temperature = 0.0;
    listeners.push_back(std::make_shared<RecordingListener>());
    request.listener = listeners.back();
    planned.push_back({i < 4 ? 0 : 3, request});
  }
  runRequests(scheduler, serving, planned);
  for (std::size_t i = 0; i < planned.size(); ++i) {
    const std::vector<TokenId> expected =
        recomputingGenerate(*model, planned[i].request.prompt, planned[i].request.max_tokens);
    EXPECT_EQ(listeners[i]->tokens, expected) << "request " << i;
    EXPECT_EQ(listeners[i]->finish, FinishReason::length) << "request " << i;
  }
  EXPECT_EQ(scheduler.load().blocks_in_use, 0);
}

TEST_P(GreedyParity, StepLogitsEqualAFullForward) {
  const ModelConfig config = GetParam().config();
  const auto model = buildModel(config, 5);
  model->eval();
  ServeModel serving(model, 8, 4);
  // Two sequences in one step: a prompt of 6 and one of 3; then one decode token each.
  std::vector<std::int64_t> a{1, 2, 3, 4, 5, 6}, b{7, 8, 9};
  StepBatch prefill;
  prefill.sequences.push_back({{0, 1}, 0, a, true});
  prefill.sequences.push_back({{2}, 0, b, true});
  const at::Tensor first = serving.step(prefill);
  EXPECT_TRUE(at::allclose(first[0], fullForwardLastLogits(*model, a), 0, 1e-5));
  EXPECT_TRUE(at::allclose(first[1], fullForwardLastLogits(*model, b), 0, 1e-5));
  StepBatch decode;
  decode.sequences.push_back({{0, 1}, 6, {10}, true});
  decode.sequences.push_back({{2}, 3, {11}, true});
  const at::Tensor second = serving.step(decode);
  a.push_back(10);
  b.push_back(11);
  EXPECT_TRUE(at::allclose(second[0], fullForwardLastLogits(*model, a), 0, 1e-5));
  EXPECT_TRUE(at::allclose(second[1], fullForwardLastLogits(*model, b), 0, 1e-5));
}

TEST_P(GreedyParity, SeededSamplingReturnsTheSameTokensWhateverElseIsInTheBatch) {
  const ModelConfig config = GetParam().config();
  const auto model = buildModel(config, 3);
  model->eval();
  const auto sampled = [&](const std::shared_ptr<RecordingListener>& listener) {
    GenerationRequest request;
    request.prompt = promptOf(6, 42, config.vocab_size);
    request.max_tokens = 12;
    request.sampling = {0.9, 20, 0.95, 1234};
    request.listener = listener;
    return request;
  };
  const auto alone = std::make_shared<RecordingListener>();
  {
    ServeModel serving(model, limitsFor(config).kv_blocks, limitsFor(config).block_tokens);
    Scheduler scheduler(limitsFor(config), nullptr);
    runRequests(scheduler, serving, {{0, sampled(alone)}});
  }
  const auto crowded = std::make_shared<RecordingListener>();
  std::vector<PlannedRequest> planned;
  for (int other = 0; other < 4; ++other) {
    GenerationRequest request;
    request.prompt = promptOf(3 + other * 5, other, config.vocab_size);
    request.max_tokens = 4 + other;
    request.sampling = {1.0, 0, 1.0, static_cast<std::uint64_t>(other)};
    request.listener = std::make_shared<RecordingListener>();
    planned.push_back({other, request});
  }
  planned.push_back({2, sampled(crowded)});
  ServeModel serving(model, limitsFor(config).kv_blocks, limitsFor(config).block_tokens);
  Scheduler scheduler(limitsFor(config), nullptr);
  runRequests(scheduler, serving, planned);
  EXPECT_EQ(crowded->tokens, alone->tokens);
  EXPECT_EQ(alone->tokens, recomputingGenerate(*model, promptOf(6, 42, config.vocab_size), 12, {0.9, 20, 0.95, 1234}));
}

TEST_P(GreedyParity, AttentionSinksKeepAConversationGoingPastSeqLenAsTheReferencePolicyDoes) {
  const ModelConfig config = GetParam().config();
  const auto model = buildModel(config, 8);
  model->eval();
  SchedulerLimits limits = limitsFor(config);
  limits.kv_window = 20;
  limits.sink_tokens = 4;
  limits.max_tokens = 200;
  ServeModel serving(model, limits.kv_blocks, limits.block_tokens);
  Scheduler scheduler(limits, nullptr);
  const auto listener = std::make_shared<RecordingListener>();
  GenerationRequest request;
  request.prompt = promptOf(30, 1, config.vocab_size);
  request.max_tokens = 150;  // 180 tokens in all: the window slides several times past seq_len 48
  request.sampling.temperature = 0.0;
  request.listener = listener;
  int most_blocks = 0;
  runRequests(scheduler, serving, {{0, request}}, nullptr,
              [&](int) { most_blocks = std::max(most_blocks, scheduler.load().blocks_in_use); });
  EXPECT_EQ(listener->finish, FinishReason::length);
  EXPECT_EQ(listener->tokens, recomputingGenerate(*model, request.prompt, 150, {0.0}, 20, 4));
  EXPECT_LE(most_blocks, (config.seq_len + limits.block_tokens - 1) / limits.block_tokens);
  EXPECT_EQ(scheduler.load().blocks_in_use, 0);
}

INSTANTIATE_TEST_SUITE_P(Archs, GreedyParity,
                         ::testing::Values(ArchCase{"gpt", tinyGpt}, ArchCase{"llama_gqa", tinyLlamaGqa}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace behemoth
