// validateForWorld: the resolved plan, batch divisibility, model shapes per axis, and the
// features this build rejects by field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "backend/project/project.h"
#include "tests/backend/project_test_support.h"

namespace behemoth {
namespace {

using nlohmann::json;
using testing::invalidArgumentMessage;
using testing::minimalProject;
using testing::ScratchDir;

std::string worldMessage(const json& document, int world_size) {
  Project project = projectFromJson(document);
  return invalidArgumentMessage([&] { validateForWorld(project, world_size); });
}

TEST(ProjectWorld, ResolvesDataParallelFromTheWorld) {
  Project project = projectFromJson(minimalProject());
  validateForWorld(project, 4);
  EXPECT_EQ(project.plan.dp, 4);
  EXPECT_EQ(project.localBatch(), 2);
}

TEST(ProjectWorld, GlobalBatchMustSplitOverDataParallelAndMicroBatches) {
  json document = minimalProject();
  document["data"] = {{"global_batch_size", 6}};
  document["train"] = {{"micro_batch_size", 2}};
  EXPECT_EQ(worldMessage(document, 2), "data.global_batch_size: 6 is not divisible by dp (2) x train.micro_batch_size (2)");
  document["data"] = {{"global_batch_size", 7}};
  EXPECT_EQ(worldMessage(document, 2), "data.global_batch_size: 7 is not divisible by dp (2)");
  document["data"] = {{"global_batch_size", 8}};
  Project ok = projectFromJson(document);
  validateForWorld(ok, 2);
  EXPECT_EQ(ok.microBatches(), 2);
}

TEST(ProjectWorld, PlanErrorsNameTheParallelField) {
  json document = minimalProject();
  document["parallel"] = {{"dp", 3}};
  EXPECT_EQ(worldMessage(document, 2).rfind("parallel", 0), 0u);
}

TEST(ProjectWorld, TensorParallelShapesAreCheckedBeforeAvailability) {
  json document = minimalProject();
  document["model"]["n_head"] = 6;
  document["model"]["d_model"] = 96;
  document["parallel"] = {{"tp", 4}};
  EXPECT_EQ(worldMessage(document, 4), "model.n_head: 6 heads cannot be split over parallel.tp (4)");

  document = minimalProject();
  document["model"]["arch"] = "llama";
  document["model"]["n_head"] = 6;
  document["model"]["n_kv_head"] = 3;
  document["model"]["d_model"] = 96;
  document["parallel"] = {{"tp", 2}};
  EXPECT_EQ(worldMessage(document, 2),
            "model.n_kv_head: 3 key/value heads cannot be split over or replicated across parallel.tp (2)");

  // A vocabulary that does not split is padded, not rejected.
  document = minimalProject();
  document["model"]["vocab_size"] = 255;
  document["parallel"] = {{"tp", 2}};
  Project padded = projectFromJson(document);
  EXPECT_NO_THROW(validateForWorld(padded, 2));

  document = minimalProject();
  document["model"]["seq_len"] = 18;
  document["parallel"] = {{"tp", 4}, {"sequence_parallel", true}};
  EXPECT_EQ(worldMessage(document, 4),
            "model.seq_len: 18 is not divisible by parallel.tp (4) as parallel.sequence_parallel shards the sequence over tp");
  document["parallel"] = {{"tp", 4}};
  Project without_sp = projectFromJson(document);
  EXPECT_NO_THROW(validateForWorld(without_sp, 4));

  document = minimalProject();
  document["parallel"] = {{"tp", 4}};
  EXPECT_EQ(worldMessage(document, 6), "parallel.tp: 4 does not divide the world size 6");
  document["parallel"] = {{"tp", 2}, {"dp", 2}};
  EXPECT_EQ(worldMessage(document, 6), "parallel: dp*pp*tp*sp*ep = 4 but the world has 6 ranks");

  document = minimalProject();
  document["parallel"] = {{"pp", 4}};
  EXPECT_EQ(worldMessage(document, 4), "model.n_layer: 2 layers cannot fill parallel.pp (4) pipeline stages");
}

TEST(ProjectWorld, FeaturesNotInThisBuildAreRejectedByField) {
  json document = minimalProject();
  document["parallel"] = {{"tp", 2}, {"sequence_parallel", true}};
  Project tensor_parallel = projectFromJson(document);
  EXPECT_NO_THROW(validateForWorld(tensor_parallel, 4));
  EXPECT_EQ(tensor_parallel.plan.dp, 2);
  EXPECT_TRUE(tensor_parallel.plan.sequence_parallel);
  EXPECT_EQ(projectToJson(tensor_parallel)["parallel"]["sequence_parallel"], true);
  EXPECT_FALSE(projectFromJson(minimalProject()).plan.sequence_parallel);
  document["parallel"] = {{"sequence_parallel", 1}};
  EXPECT_EQ(invalidArgumentMessage([&] { projectFromJson(document); }).rfind("parallel.sequence_parallel:", 0), 0u);
  // Pipelines: the whole local batch as one micro-batch cannot fill two 1F1B stages; four can.
  document["parallel"] = {{"pp", 2}};
  EXPECT_EQ(worldMessage(document, 2).rfind("train.micro_batch_size: 1 micro-batches per step cannot fill the 2 pipeline stages", 0), 0u);
  document["parallel"] = {{"pp", 2}, {"pp_schedule", "gpipe"}};
  Project gpipe = projectFromJson(document);
  EXPECT_NO_THROW(validateForWorld(gpipe, 2));
  document["train"] = {{"micro_batch_size", 2}};
  document["parallel"] = {{"pp", 2}};
  Project one_f_one_b = projectFromJson(document);
  EXPECT_NO_THROW(validateForWorld(one_f_one_b, 2));
  EXPECT_EQ(one_f_one_b.microBatches(), 4);
  document["parallel"] = {{"pp", 2}, {"pp_layers", {2, 1}}};
  EXPECT_EQ(worldMessage(document, 2), "parallel.pp_layers: the counts sum to 3 blocks but model.n_layer is 2");
  document["parallel"] = {{"pp", 2}, {"pp_schedule", "interleaved"}, {"pp_virtual", 2}};
  EXPECT_EQ(worldMessage(document, 2).rfind("model.n_layer: 2 blocks do not divide evenly over parallel.pp (2) x parallel.pp_virtual (2)", 0), 0u);
  document["parallel"] = {{"pp", 4}};
  EXPECT_EQ(worldMessage(document, 2), "parallel.pp: 4 exceeds the world size 2");
  document.erase("train");
  document["parallel"] = {{"zero", 3}, {"pp", 2}};
  document["train"] = {{"micro_batch_size", 1}};  // enough micro-batches for the pipeline
  const std::string zero3_pp = worldMessage(document, 2);
  EXPECT_EQ(zero3_pp.rfind("parallel.zero: ZeRO stage 3 with pipeline parallelism (parallel.pp 2) is not supported", 0), 0u)
      << zero3_pp;
  document = minimalProject();
  document["precision"] = "fp16";
  EXPECT_EQ(worldMessage(document, 1).rfind("precision: fp16 needs parallel.zero 1, 2 or 3", 0), 0u);
  document["parallel"] = {{"zero", 2}};
  Project fp16 = projectFromJson(document);
  EXPECT_NO_THROW(validateForWorld(fp16, 2));
  document = minimalProject();
  document["parallel"] = {{"zero", 0}, {"offload_optimizer", true}};
  EXPECT_EQ(worldMessage(document, 2), "parallel.offload_optimizer: offloading the optimizer needs parallel.zero 1 or 2");
  for (int stage : {1, 2}) {
    document["parallel"] = {{"zero", stage}, {"offload_optimizer", true}};
    Project two_ranks = projectFromJson(document);
    EXPECT_NO_THROW(validateForWorld(two_ranks, 2)) << "stage " << stage;
    Project one_rank = projectFromJson(document);
    EXPECT_NO_THROW(validateForWorld(one_rank, 1)) << "stage " << stage << " on one rank is a no-op partition";
  }
  {
    // The parser knows only adamw; a project built in code with another optimizer is caught too.
    Project other = projectFromJson(document);
    other.optimizer.name = "sgd";
    try {
      validateForWorld(other, 2);
      ADD_FAILURE() << "offload with sgd was accepted";
    } catch (const std::invalid_argument& error) {
      EXPECT_EQ(std::string(error.what()),
                "parallel.offload_optimizer: optimizer 'sgd' cannot be offloaded (only adamw has a CPU implementation)");
    }
  }
  document = minimalProject();
  document["precision"] = "bf16";
  Project bf16 = projectFromJson(document);
  EXPECT_NO_THROW(validateForWorld(bf16, 1));
#ifndef BEHEMOTH_WITH_CUDA
  document = minimalProject();
  document["devices"] = {{"kind", "cuda"}};
  EXPECT_EQ(worldMessage(document, 1).rfind("devices.kind: cuda is not available", 0), 0u);
#endif
}

TEST(ProjectWorld, CorpusMustExistUnlessBuiltin) {
  ScratchDir dir;
  json document = minimalProject();
  document["data"] = {{"corpus", "missing.txt"}};
  const std::string path = dir.write("p.json", document.dump());
  Project project = loadProject(path);
  EXPECT_EQ(invalidArgumentMessage([&] { validateForWorld(project, 1); }),
            "data.corpus: no such file or folder: " + dir.file("missing.txt"));
  dir.write("missing.txt", "now it exists");
  Project again = loadProject(path);
  EXPECT_NO_THROW(validateForWorld(again, 1));
}

TEST(ProjectWorld, DefaultProjectIsValidOnTwoProcesses) {
  const char* source = std::getenv("BEHEMOTH_SOURCE");
  const std::string root = source ? source : ".";
  Project project = loadProject(root + "/projects/default.json");
  validateForWorld(project, 2);
  EXPECT_EQ(project.plan.dp, 2);
  EXPECT_EQ(project.data.corpus, "builtin");
  EXPECT_EQ(project.devices.count, 2);
}

}  // namespace
}  // namespace behemoth

namespace behemoth {
namespace {

// The sp axis's shapes are checked before launch, each message naming the field.
TEST(ProjectWorld, SequenceParallelShapesAreCheckedBeforeLaunch) {
  json document = minimalProject();  // 4 heads, seq_len 64
  document["parallel"] = {{"sp", 2}};
  Project ulysses = projectFromJson(document);
  EXPECT_NO_THROW(validateForWorld(ulysses, 2));
  document["parallel"] = {{"sp", 2}, {"sp_mode", "ring"}};
  Project ring = projectFromJson(document);
  EXPECT_NO_THROW(validateForWorld(ring, 4));
  document["parallel"] = {{"sp", 8}};
  EXPECT_EQ(worldMessage(document, 8),
            "model.n_head: 4 heads (4 per tp rank) cannot be split over parallel.sp (8) by parallel.sp_mode ulysses");
  document["parallel"] = {{"sp", 2}, {"tp", 4}};
  EXPECT_EQ(worldMessage(document, 8),
            "model.n_head: 4 heads (1 per tp rank) cannot be split over parallel.sp (2) by parallel.sp_mode ulysses");
  document["model"]["arch"] = "llama";
  document["model"]["n_kv_head"] = 2;
  document["parallel"] = {{"sp", 4}};
  EXPECT_EQ(worldMessage(document, 4), "model.n_kv_head: 2 key/value heads (2 per tp rank) cannot be split over parallel.sp (4) "
                                       "by parallel.sp_mode ulysses; use parallel.sp_mode ring");
  document["parallel"] = {{"sp", 4}, {"sp_mode", "ring"}};
  Project grouped_ring = projectFromJson(document);
  EXPECT_NO_THROW(validateForWorld(grouped_ring, 4));
  document["model"]["seq_len"] = 36;
  document["parallel"] = {{"sp", 4}, {"sp_mode", "ring"}};
  EXPECT_EQ(worldMessage(document, 4),
            "model.seq_len: 36 cannot be cut into 8 equal zigzag chunks (two per sp rank) for parallel.sp_mode ring");
  document["parallel"] = {{"sp", 2}, {"sp_mode", "ring"}, {"tp", 4}, {"sequence_parallel", true}};
  EXPECT_EQ(worldMessage(document, 8), "model.seq_len: each sp rank's 18 tokens are not divisible by parallel.tp (4) as "
                                       "parallel.sequence_parallel shards them over tp");
  document["model"]["seq_len"] = 64;
  document["parallel"] = {{"sp", 2}, {"sp_mode", "zigzag"}};
  EXPECT_EQ(invalidArgumentMessage([&] { projectFromJson(document); }),
            "parallel.sp_mode: unknown mode 'zigzag' (expected ulysses or ring)");
}

}  // namespace
}  // namespace behemoth
