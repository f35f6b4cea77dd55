// analyzeProject: the per-device memory the Studio draws equals the ZeRO accounting computed here
// from the parameter count, engine messages name their fields, and plans the engine cannot run
// yet are still estimated.
#include <gtest/gtest.h>

#include "backend/project/project.h"
#include "parallel/plan.h"
#include "tests/ui/ui_test_support.h"
#include "ui/project_analysis.h"

namespace behemoth::ui {
namespace {

std::int64_t parameterCount(const nlohmann::json& json) { return projectFromJson(json).model.parameterCount(); }

TEST(ProjectAnalysis, DeviceMemoryFollowsTheZeroAccounting) {
  nlohmann::json json = testing::tinyProject();
  const std::int64_t p = parameterCount(json);

  const ProjectAnalysis plain = analyzeProject(json, ".");
  ASSERT_FALSE(plain.error) << plain.error->message;
  ASSERT_EQ(plain.devices.size(), 2u);
  for (const DeviceMemory& d : plain.devices) {
    EXPECT_EQ(d.parameters, 4 * p);  // fp32 weights
    EXPECT_EQ(d.gradients, 4 * p);   // fp32 gradients
    EXPECT_EQ(d.optimizer, 8 * p);   // AdamW: two fp32 moments
    EXPECT_GT(d.activations, 0);
  }

  json["parallel"]["zero"] = 1;
  const ProjectAnalysis zero1 = analyzeProject(json, ".");
  ASSERT_FALSE(zero1.error) << zero1.error->message;
  const std::int64_t shard = (p + 1) / 2;  // P padded to a multiple of dp=2, over 2 ranks
  for (const DeviceMemory& d : zero1.devices) {
    EXPECT_EQ(d.parameters, 4 * p);
    EXPECT_EQ(d.optimizer, 8 * shard);
  }
  EXPECT_EQ(zero1.parameter_count, p);
}

TEST(ProjectAnalysis, PipelineStagesGiveRanksTheirStagesMemory) {
  nlohmann::json json = testing::tinyProject();
  json["devices"]["count"] = 4;
  json["parallel"]["pp"] = 2;
  json["train"]["micro_batch_size"] = 4;  // 2 micro-batches per step: enough for 2 stages of 1F1B
  const ProjectAnalysis a = analyzeProject(json, ".");
  ASSERT_FALSE(a.error) << a.error->message;
  ASSERT_TRUE(a.estimate);
  ASSERT_EQ(a.devices.size(), 4u);
  // Default order pp, dp, ...: ranks 0-1 are stage 0, ranks 2-3 stage 1.
  for (const DeviceMemory& d : a.devices) {
    const int stage = d.rank / 2;
    EXPECT_EQ(d.stage, stage);
    EXPECT_EQ(d.total(), a.estimate->memory.stages[stage].deviceBytes());
  }
  // This build runs pipelines: nothing blocks the launch.
  EXPECT_FALSE(a.run_blocker) << a.run_blocker->message;
}

TEST(ProjectAnalysis, AnAxisThatDoesNotDivideTheWorldIsTheEnginesMessage) {
  nlohmann::json json = testing::tinyProject();
  json["devices"]["count"] = 4;
  json["parallel"]["tp"] = 3;
  Plan plan;
  plan.tp = 3;
  std::string expected;
  try {
    plan.resolve(4);
  } catch (const std::invalid_argument& error) {
    expected = error.what();
  }
  ASSERT_FALSE(expected.empty());
  const ProjectAnalysis a = analyzeProject(json, ".");
  ASSERT_TRUE(a.error);
  EXPECT_EQ(a.error->message, expected);
  // The field is what the message starts with ("parallel.tp: ..." or "parallel: ...").
  EXPECT_EQ(a.error->field, expected.substr(0, expected.find(':')));
  EXPECT_FALSE(a.estimated());
}

TEST(ProjectAnalysis, ParseErrorsNameTheField) {
  nlohmann::json json = testing::tinyProject();
  json["model"]["n_layer"] = "two";
  const ProjectAnalysis a = analyzeProject(json, ".");
  ASSERT_TRUE(a.error);
  EXPECT_EQ(a.error->field, "model.n_layer");
  EXPECT_FALSE(a.project);
}

TEST(ProjectAnalysis, FieldOfMessage) {
  EXPECT_EQ(fieldOfMessage("parallel.tp must be >= 1, got 0"), "parallel.tp");
  EXPECT_EQ(fieldOfMessage("model.n_head: 4 heads cannot be split"), "model.n_head");
  EXPECT_EQ(fieldOfMessage("parallel: dp*pp*tp*sp*ep = 3 but the world has 4 ranks"), "parallel");
  EXPECT_EQ(fieldOfMessage("precision: fp16 needs parallel.zero 1, 2 or 3"), "precision");
  EXPECT_EQ(fieldOfMessage("world size must be at least 1"), "");
  EXPECT_EQ(fieldOfMessage("/tmp/x.json: cannot be opened"), "");
}

TEST(ProjectAnalysis, ShippedProjectsAreEstimatedWithoutErrors) {
  for (const char* name : {"default.json", "gpt2-4gpu.json", "llama-7b-8gpu.json"}) {
    const std::string path = (testing::sourceDir() + "/projects/").toStdString() + name;
    const ProjectAnalysis a = analyzeProject(readProjectJson(path), testing::sourceDir().toStdString() + "/projects");
    ASSERT_FALSE(a.error) << name << ": " << a.error->message;
    ASSERT_TRUE(a.estimated()) << name;
    EXPECT_EQ(a.devicesOverCapacity(), 0) << name;
  }
}

}  // namespace
}  // namespace behemoth::ui
