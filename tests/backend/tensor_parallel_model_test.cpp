// parallelize() on the zoo models: at tp = 2 and 4, with and without sequence parallelism, the
// sharded GPT and LLaMA (GQA with fewer kv heads than ranks, a vocabulary that needs padding)
// compute the dense model's logits and loss, and their gathered gradients are the dense gradients.
#include "backend/parallelize/parallelize.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <sstream>

#include "backend/model/language_model.h"
#include "parallel/world.h"
#include "tests/parallel/rank_checks.h"
#include "tests/support/multiprocess.h"

namespace behemoth {
namespace {

struct ModelCase {
  Arch arch;
  int tp;
  bool sequence_parallel;
  int vocab;
};

ModelConfig configFor(const ModelCase& c) {
  ModelConfig config;
  config.arch = c.arch;
  config.n_layer = 2;
  config.n_head = 4;
  config.d_model = 32;
  config.seq_len = 8;
  config.vocab_size = c.vocab;
  if (c.arch == Arch::llama) {
    config.n_kv_head = 2;  // at tp = 4: each kv head replicated on two ranks
    config.tie_embeddings = false;
  }
  return config;
}

class TensorParallelModel : public testing::TestWithParam<ModelCase> {};

TEST_P(TensorParallelModel, MatchesTheDenseModelAndItsGradients) {
  const ModelCase c = GetParam();
  const RankRun run = runOnRanks(c.tp, [&c](const WorldInfo& info) {
    Plan plan;
    plan.tp = c.tp;
    plan.sequence_parallel = c.sequence_parallel;
    plan.resolve(c.tp);
    ProcessWorld world(info, plan);
    const ModelConfig config = configFor(c);
    at::manual_seed(5);
    const at::Tensor tokens = at::randint(0, config.vocab_size, {2, config.seq_len}, at::kLong);
    const at::Tensor targets = at::randint(0, config.vocab_size, {2, config.seq_len}, at::kLong);

    auto dense = buildModel(config, 42);
    const at::Tensor dense_loss = dense->loss(tokens, targets);
    dense_loss.backward();
    const at::Tensor dense_logits = dense->forward(tokens).detach();

    auto sharded = buildModel(config, 42);
    const TensorParallelLayout layout = parallelize(*sharded, plan, world);
    Group& tp = world.group(Axis::tp);
    const at::Tensor loss = sharded->loss(tokens, targets);
    loss.backward();
    requireClose(loss.detach(), dense_loss.detach(), "loss");
    requireClose(sharded->forward(tokens).detach(), dense_logits, "gathered logits");

    auto dense_parameters = dense->named_parameters();
    for (const auto& item : sharded->named_parameters()) {
      const ParameterPlacement& place = layout.placement(item.key());
      const at::Tensor value = gatherFullParameter(item.value().detach(), place, tp);
      const at::Tensor grad = gatherFullParameter(item.value().grad(), place, tp);
      requireClose(value, dense_parameters[item.key()].detach(), item.key() + " value");
      requireClose(grad, dense_parameters[item.key()].grad(), item.key() + " gradient");
    }
  });
  EXPECT_TRUE(expectAllRanksOk(run));
}

std::string caseName(const testing::TestParamInfo<ModelCase>& info) {
  const ModelCase& c = info.param;
  return archName(c.arch) + "_tp" + std::to_string(c.tp) + (c.sequence_parallel ? "_sp" : "") + "_vocab" +
         std::to_string(c.vocab);
}

INSTANTIATE_TEST_SUITE_P(Layouts, TensorParallelModel,
                         testing::Values(ModelCase{Arch::gpt, 2, false, 64}, ModelCase{Arch::gpt, 4, true, 61},
                                         ModelCase{Arch::gpt, 4, false, 61}, ModelCase{Arch::llama, 2, true, 64},
                                         ModelCase{Arch::llama, 4, false, 61}, ModelCase{Arch::llama, 4, true, 61}),
                         caseName);

TEST(TensorParallelModelErrors, HeadsThatCannotBeSplitNameTheField) {
  const RankRun run = runOnRanks(2, [](const WorldInfo& info) {
    Plan plan;
    plan.tp = 2;
    plan.resolve(2);
    ProcessWorld world(info, plan);
    ModelConfig config = configFor({Arch::gpt, 2, false, 64});
    config.n_head = 1;
    auto model = buildModel(config, 1);
    try {
      parallelize(*model, plan, world);
    } catch (const std::invalid_argument& error) {
      if (std::string(error.what()).rfind("model.n_head:", 0) == 0) return;
      throw;
    }
    throw std::runtime_error("parallelize accepted 1 head over tp 2");
  });
  EXPECT_TRUE(expectAllRanksOk(run));
}

}  // namespace
}  // namespace behemoth
