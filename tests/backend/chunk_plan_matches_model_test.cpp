// The planner's ZeRO-3 tensor list (memory/chunk_plan.h: plannedTensors) against the models the
// engine builds: names, order and per-rank element counts equal buildModel(...)->named_parameters()
// for GPT and LLaMA, tied and untied, whole at tp 1 and after parallelize() on every rank at tp 2
// (a vocabulary that needs padding; LLaMA with fewer kv heads than ranks).
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "backend/model/language_model.h"
#include "backend/parallelize/parallelize.h"
#include "backend/planning/plan_inputs.h"
#include "memory/chunk_plan.h"
#include "parallel/world.h"
#include "tests/support/multiprocess.h"

namespace behemoth {
namespace {

ModelConfig configFor(Arch arch, bool tied) {
  ModelConfig config;
  config.arch = arch;
  config.n_layer = 3;
  config.n_head = 4;
  config.d_model = 32;
  config.seq_len = 8;
  config.vocab_size = 97;  // odd: tp 2 pads it to 98 rows
  config.tie_embeddings = tied;
  if (arch == Arch::llama) config.n_kv_head = 1;  // at tp 2 each rank holds the one kv head
  return config;
}

// "name numel" per line, for a readable diff when they differ.
std::string listing(const std::vector<PlannedTensor>& tensors) {
  std::ostringstream text;
  for (const PlannedTensor& t : tensors) text << t.name << ' ' << t.numel << '\n';
  return text.str();
}

std::vector<PlannedTensor> builtTensors(LanguageModel& model) {
  std::vector<PlannedTensor> tensors;
  for (const auto& item : model.named_parameters()) tensors.push_back({item.key(), item.value().numel()});
  return tensors;
}

struct ModelCase {
  Arch arch;
  bool tied;
};

class ChunkPlanMatchesModel : public testing::TestWithParam<ModelCase> {};

TEST_P(ChunkPlanMatchesModel, WholeModelAtTpOne) {
  const ModelConfig config = configFor(GetParam().arch, GetParam().tied);
  auto model = buildModel(config, 7);
  EXPECT_EQ(listing(plannedTensors(describeModel(config), 1)), listing(builtTensors(*model)));
}

TEST_P(ChunkPlanMatchesModel, EveryRankAfterParallelizeAtTpTwo) {
  const ModelConfig config = configFor(GetParam().arch, GetParam().tied);
  const std::string expected = listing(plannedTensors(describeModel(config), 2));
  const RankRun run = runOnRanks(2, [&config](const WorldInfo& info) {
    Plan plan;
    plan.tp = 2;
    plan.sequence_parallel = true;
    plan.resolve(2);
    ProcessWorld world(info, plan);
    auto model = buildModel(config, 7);
    parallelize(*model, plan, world);
    saveRankText(info, "tensors", listing(builtTensors(*model)));
  });
  ASSERT_TRUE(expectAllRanksOk(run));
  for (int rank = 0; rank < 2; ++rank) EXPECT_EQ(run.loadText(rank, "tensors"), expected) << "tp rank " << rank;
}

INSTANTIATE_TEST_SUITE_P(Zoo, ChunkPlanMatchesModel,
                         testing::Values(ModelCase{Arch::gpt, true}, ModelCase{Arch::gpt, false},
                                         ModelCase{Arch::llama, true}, ModelCase{Arch::llama, false}),
                         [](const testing::TestParamInfo<ModelCase>& info) {
                           return archName(info.param.arch) + (info.param.tied ? "Tied" : "Untied");
                         });

}  // namespace
}  // namespace behemoth
