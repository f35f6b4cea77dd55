// Auto plan: the planner's best plan, applied to the project file, is the plan the Studio then
// estimates (same axes, same ZeRO stage, and it fits).
#include <gtest/gtest.h>

#include "backend/planning/runnable_plan.h"
#include "backend/project/project.h"
#include "tests/ui/ui_test_support.h"
#include "ui/auto_plan.h"
#include "ui/project_analysis.h"

namespace behemoth::ui {
namespace {

TEST(AutoPlan, AppliedBestPlanIsWhatTheStudioEstimates) {
  const std::string dir = testing::sourceDir().toStdString() + "/projects";
  nlohmann::json project = readProjectJson(dir + "/llama-7b-8gpu.json");
  const AutoPlanOutcome outcome = runAutoPlan(project, dir, /*runnable_only=*/true);
  ASSERT_TRUE(outcome.error.isEmpty()) << outcome.error.toStdString();
  ASSERT_TRUE(outcome.result.anythingFits()) << outcome.result.message;
  const TrainingLayout& best = outcome.result.best.front().estimate.layout;
  EXPECT_EQ(best.worldSize(), 8);
  // Runnable only: every plan passes the engine's check (strategies judged on this build's CPUs:
  // the project plans for H100s), so the project file can hold all of it.
  const Project parsed = projectFromJson(project, dir);
  for (const RankedPlan& plan : outcome.result.best) {
    EXPECT_TRUE(plan.runnable) << plan.summary;
    EXPECT_EQ(whyNotRunnable(parsed, plan.estimate.layout, DeviceJudgement::strategy_only), "") << plan.summary;
    const double offload = plan.estimate.layout.optimizer_offload;
    EXPECT_TRUE(offload == 0.0 || offload == 1.0) << plan.summary;
  }

  applyLayout(project, best);
  const ProjectAnalysis analysis = analyzeProject(project, dir);
  ASSERT_FALSE(analysis.error) << analysis.error->message;
  ASSERT_TRUE(analysis.estimated());
  EXPECT_EQ(analysis.project->plan.dp, best.dp);
  EXPECT_EQ(analysis.project->plan.zero, best.zero);
  EXPECT_EQ(analysis.project->microBatchSize(), best.micro_batch_size);
  EXPECT_EQ(analysis.estimate->memory.peakDeviceBytes(), outcome.result.best.front().estimate.memory.peakDeviceBytes());
  EXPECT_EQ(analysis.devicesOverCapacity(), 0);
}

TEST(AutoPlan, EveryPlanIsMarkedWithTheEnginesCheck) {
  const std::string dir = testing::sourceDir().toStdString() + "/projects";
  const nlohmann::json project = readProjectJson(dir + "/llama-7b-8gpu.json");
  const AutoPlanOutcome outcome = runAutoPlan(project, dir, /*runnable_only=*/false);
  ASSERT_TRUE(outcome.error.isEmpty()) << outcome.error.toStdString();
  ASSERT_TRUE(outcome.result.judged);
  const Project parsed = projectFromJson(project, dir);
  for (const RankedPlan& plan : outcome.result.best) {
    const std::string reason = whyNotRunnable(parsed, plan.estimate.layout, DeviceJudgement::strategy_only);
    EXPECT_EQ(plan.runnable, reason.empty()) << plan.summary;
    EXPECT_EQ(plan.not_runnable, reason) << plan.summary;
  }
}

TEST(AutoPlan, AProjectThatCannotBeSearchedSaysWhy) {
  nlohmann::json project = testing::tinyProject();
  project["data"]["global_batch_size"] = 0;
  const AutoPlanOutcome outcome = runAutoPlan(project, ".", false);
  EXPECT_TRUE(outcome.error.contains("data.global_batch_size")) << outcome.error.toStdString();
}

}  // namespace
}  // namespace behemoth::ui
