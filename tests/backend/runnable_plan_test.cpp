// The runnable check of searched plans (backend/planning/runnable_plan.h): it says exactly what
// validateForWorld says about the project with the plan applied, and the search marks every plan
// it ranks with it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>

#include "backend/planning/auto_plan.h"
#include "backend/planning/plan_inputs.h"
#include "backend/planning/runnable_plan.h"
#include "backend/project/project.h"
#include "tests/backend/project_test_support.h"

namespace behemoth {
namespace {

using nlohmann::json;
using testing::invalidArgumentMessage;
using testing::minimalProject;

// GPT, 2 layers, 4 heads, d 64, seq 64; 4 CPU devices, global batch 8.
Project fourDevices() {
  json document = minimalProject();
  document["devices"] = {{"kind", "cpu"}, {"count", 4}};
  document["data"] = {{"global_batch_size", 8}};
  return projectFromJson(document);
}

TrainingLayout dataParallel(int dp) {
  TrainingLayout layout;
  layout.dp = dp;
  layout.micro_batch_size = 2;
  layout.micro_batches = 8 / (2 * dp);
  return layout;
}

// What validateForWorld raises for the project with the layout applied ("" when nothing).
std::string validationMessage(const Project& project, const TrainingLayout& layout) {
  Project applied = projectWithLayout(project, layout);
  try {
    validateForWorld(applied, layout.worldSize());
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

TEST(RunnablePlan, PlainDataParallelRuns) {
  const Project project = fourDevices();
  const TrainingLayout layout = dataParallel(4);
  EXPECT_EQ(whyNotRunnable(project, layout), "");
  EXPECT_EQ(validationMessage(project, layout), "");
  Project applied = projectWithLayout(project, layout);
  validateForWorld(applied, 4);
  EXPECT_EQ(applied.plan.dp, 4);
  EXPECT_EQ(applied.microBatchSize(), 2);
  EXPECT_EQ(applied.microBatches(), 1);
}

TEST(RunnablePlan, PipelinePlansRunnableSinceTheValidationTakesThem) {
  const Project project = fourDevices();
  TrainingLayout pipeline = dataParallel(2);
  pipeline.pp = 2;
  pipeline.micro_batch_size = 1;
  pipeline.micro_batches = 4;
  EXPECT_EQ(whyNotRunnable(project, pipeline), "");
  pipeline.micro_batch_size = 4;  // one micro-batch cannot fill two 1F1B stages
  pipeline.micro_batches = 1;
  const std::string reason = whyNotRunnable(project, pipeline);
  EXPECT_EQ(reason.rfind("train.micro_batch_size:", 0), 0u) << reason;
  EXPECT_EQ(reason, validationMessage(project, pipeline));
}

TEST(RunnablePlan, RefusedPlansCarryTheValidationsMessage) {
  const Project project = fourDevices();
  TrainingLayout zero3 = dataParallel(2);
  zero3.zero = 3;
  zero3.pp = 2;
  zero3.micro_batch_size = 1;
  zero3.micro_batches = 4;
  TrainingLayout ep = dataParallel(2);
  ep.ep = 2;
  ep.micro_batches = 1;
  const std::pair<TrainingLayout, const char*> refused[] = {
      {zero3, "parallel.zero: ZeRO stage 3 with pipeline parallelism"},
      {ep, "parallel.ep: expert parallelism is not available"}};
  for (const auto& [layout, expected] : refused) {
    const std::string reason = whyNotRunnable(project, layout);
    EXPECT_EQ(reason.rfind(expected, 0), 0u) << reason;
    EXPECT_EQ(reason, validationMessage(project, layout));
  }
}

TEST(RunnablePlan, WhatTheProjectFileCannotSayIsNotRunnable) {
  const Project project = fourDevices();
  TrainingLayout partial = dataParallel(4);
  partial.zero = 1;
  partial.optimizer_offload = 0.5;
  EXPECT_EQ(validationMessage(project, partial), "");  // the file would say "offload all of it"
  EXPECT_EQ(whyNotRunnable(project, partial),
            "parallel.offload_optimizer: the plan offloads 50 % of the optimizer states; the project file offloads all "
            "or nothing");
  TrainingLayout whole = partial;
  whole.optimizer_offload = 1.0;
  EXPECT_EQ(whyNotRunnable(project, whole), "");
}

// ZeRO-3's fractions and chunk size are project keys: a searched stage-3 layout writes them and
// reads back as the same layout (chunk_elements through chunk_mb in the working dtype).
TEST(RunnablePlan, ZeroThreeChunkKeysAreInTheProjectFile) {
  Project project = fourDevices();
  project.precision = Precision::bf16;
  TrainingLayout layout = dataParallel(4);
  layout.precision = NumericFormat::bf16;
  layout.zero = 3;
  layout.parameter_offload = 0.5;
  layout.optimizer_offload = 0.25;
  layout.chunk_elements = 16384;
  EXPECT_EQ(layoutOutsideProjectFile(layout), "");
  EXPECT_EQ(whyNotRunnable(project, layout), "");
  Project applied = projectWithLayout(project, layout);
  EXPECT_EQ(applied.plan.offload_param_fraction, 0.5);
  EXPECT_EQ(applied.plan.offload_optim_fraction, 0.25);
  EXPECT_FALSE(applied.plan.offload_optimizer);
  EXPECT_EQ(applied.plan.chunk_mb, 16384.0 * 2 / (1 << 20));
  validateForWorld(applied, 4);
  const TrainingLayout back = layoutFromProject(applied);
  EXPECT_EQ(back.parameter_offload, 0.5);
  EXPECT_EQ(back.optimizer_offload, 0.25);
  EXPECT_EQ(back.chunk_elements, 16384);
  // Leaving stage 3 drops the keys only stage 3 accepts.
  json document = minimalProject();
  writeLayoutToJson(document, layout);
  EXPECT_EQ(document["parallel"]["offload_param_fraction"], 0.5);
  writeLayoutToJson(document, dataParallel(4));
  EXPECT_FALSE(document["parallel"].contains("offload_param_fraction"));
  EXPECT_EQ(projectFromJson(document).plan.zero, 0);
}

// parallel.sp_mode and model.attention travel both ways: the project's reach the layout as
// context_mode and fused_attention, and a layout's come back as those keys, in every form
// (projectWithLayout, the written document, the --set overrides).
TEST(RunnablePlan, SpModeAndAttentionMapBothWays) {
  json document = minimalProject();
  document["devices"] = {{"kind", "cpu"}, {"count", 4}};
  document["data"] = {{"global_batch_size", 8}};
  document["parallel"] = {{"dp", -1}, {"sp", 2}, {"sp_mode", "ring"}};
  const auto layoutOf = [](const json& d) {
    Project project = projectFromJson(d);
    project.plan.resolve(project.devices.count);
    return layoutFromProject(project);
  };
  // model.attention auto: dense while the 64 tokens fit one 128-token block, blockwise beyond.
  EXPECT_FALSE(layoutOf(document).fused_attention);
  document["model"]["attention_block"] = 32;
  EXPECT_TRUE(layoutOf(document).fused_attention);
  document["model"]["attention"] = "blockwise";
  document["model"]["attention_block"] = 128;
  const TrainingLayout from_ring = layoutOf(document);
  EXPECT_EQ(from_ring.sp, 2);
  EXPECT_EQ(from_ring.dp, 2);
  EXPECT_EQ(from_ring.context_mode, ContextMode::ring);
  EXPECT_TRUE(from_ring.fused_attention);
  document["parallel"]["sp_mode"] = "ulysses";
  document["model"]["attention"] = "dense";
  const TrainingLayout from_ulysses = layoutOf(document);
  EXPECT_EQ(from_ulysses.context_mode, ContextMode::ulysses);
  EXPECT_FALSE(from_ulysses.fused_attention);

  TrainingLayout ring = dataParallel(2);
  ring.sp = 2;
  ring.context_mode = ContextMode::ring;
  ring.fused_attention = false;
  EXPECT_EQ(layoutOutsideProjectFile(ring), "") << "the project file says the sp mode";
  const Project applied = projectWithLayout(fourDevices(), ring);
  EXPECT_EQ(applied.plan.sp, 2);
  EXPECT_EQ(applied.plan.sp_mode, "ring");
  EXPECT_EQ(applied.model.resolvedAttention(), AttentionKind::dense);
  ring.fused_attention = true;
  EXPECT_EQ(projectWithLayout(fourDevices(), ring).model.resolvedAttention(), AttentionKind::blockwise);

  json written = minimalProject();
  writeLayoutToJson(written, ring);
  EXPECT_EQ(written["parallel"]["sp_mode"], "ring");
  EXPECT_EQ(written["model"]["attention"], "blockwise");
  written["devices"] = {{"kind", "cpu"}, {"count", 4}};
  written["data"] = {{"global_batch_size", 8}};
  const TrainingLayout back = layoutOf(written);
  EXPECT_EQ(back.sp, 2);
  EXPECT_EQ(back.context_mode, ContextMode::ring);
  EXPECT_TRUE(back.fused_attention);
  const std::vector<std::string> overrides = layoutOverrides(ring);
  EXPECT_NE(std::find(overrides.begin(), overrides.end(), "parallel.sp_mode=\"ring\""), overrides.end());
  EXPECT_NE(std::find(overrides.begin(), overrides.end(), "model.attention=\"blockwise\""), overrides.end());
}

TEST(RunnablePlan, DevicesAreJudgedAsTheCallerAsks) {
#ifndef BEHEMOTH_WITH_CUDA
  Project project = fourDevices();
  project.devices.kind = "cuda";
  const TrainingLayout layout = dataParallel(4);
  EXPECT_EQ(whyNotRunnable(project, layout).rfind("devices.kind: cuda is not available", 0), 0u);
  EXPECT_EQ(whyNotRunnable(project, layout, DeviceJudgement::strategy_only), "");
#endif
}

TEST(RunnablePlan, TheWrittenFieldsParseToTheAppliedPlan) {
  json document = minimalProject();
  document["model"]["n_layer"] = 4;
  document["devices"] = {{"kind", "cpu"}, {"count", 4}};
  document["parallel"] = {{"pp", 4}, {"pp_layers", {1, 1, 1, 1}}, {"bucket_mb", 4}};
  TrainingLayout layout;
  layout.dp = 1;
  layout.pp = 2;
  layout.tp = 2;
  layout.sequence_parallel = true;
  layout.zero = 1;
  layout.schedule = PipelineSchedule::interleaved;
  layout.virtual_stages = 2;
  layout.micro_batch_size = 2;
  layout.micro_batches = 4;
  layout.recompute = Recompute::selective;
  writeLayoutToJson(document, layout);
  const Project written = projectFromJson(document);
  const Project applied = projectWithLayout(projectFromJson(minimalProject()), layout);
  json expected = planToJson(applied.plan);
  expected["bucket_mb"] = 4.0;  // not the layout's to decide: the project's stays
  EXPECT_EQ(planToJson(written.plan), expected);
  EXPECT_TRUE(written.plan.pp_layers.empty());
  EXPECT_EQ(written.plan.pp_schedule, "interleaved");
  EXPECT_EQ(written.plan.pp_virtual, 2);
  EXPECT_TRUE(written.plan.sequence_parallel);
  EXPECT_EQ(written.train.micro_batch_size, 2);
  EXPECT_EQ(written.train.recompute, "selective");
  // The --set form says the same.
  json overridden = minimalProject();
  for (const std::string& assignment : layoutOverrides(layout)) applyOverride(overridden, assignment);
  EXPECT_EQ(planToJson(projectFromJson(overridden).plan), planToJson(applied.plan));
  // Applied and read back, the layout is the searched one (the planner's own conversion).
  Project resolved = written;
  resolved.plan.resolve(4);
  const TrainingLayout back = layoutFromProject(resolved);
  EXPECT_EQ(back.worldSize(), layout.worldSize());
  EXPECT_EQ(back.micro_batch_size, layout.micro_batch_size);
  EXPECT_EQ(back.zero, layout.zero);
  EXPECT_EQ(back.sequence_parallel, layout.sequence_parallel);
}

TEST(RunnablePlan, TheSearchMarksEveryPlanWithTheCheck) {
  const Project project = fourDevices();
  SearchRequest request = autoPlanRequest(project, deviceFromProject(project));
  request.keep = 5000;
  request.keep_runnable = 3;
  const SearchResult result = searchPlans(request);
  ASSERT_TRUE(result.judged);
  ASSERT_TRUE(result.anythingFits()) << result.message;
  ASSERT_LE(result.fitting, 5000) << "keep 5000 holds every fitting plan of this search";
  int refused = 0;
  for (const RankedPlan& plan : result.best) {
    const std::string reason = whyNotRunnable(project, plan.estimate.layout);
    EXPECT_EQ(plan.runnable, reason.empty()) << plan.summary;
    EXPECT_EQ(plan.not_runnable, reason) << plan.summary;
    refused += plan.runnable ? 0 : 1;
  }
  EXPECT_GT(refused, 0);  // zero 3, sp, pp and recomputation are all searched here
  // The runnable list is the best list's runnable plans, in order, with the same ranks.
  ASSERT_EQ(result.runnable.size(), 3u);
  std::vector<const RankedPlan*> runnable_in_best;
  for (const RankedPlan& plan : result.best) {
    if (plan.runnable) runnable_in_best.push_back(&plan);
  }
  ASSERT_GE(runnable_in_best.size(), 3u);
  for (std::size_t k = 0; k < result.runnable.size(); ++k) {
    EXPECT_TRUE(result.runnable[k].runnable);
    EXPECT_EQ(result.runnable[k].summary, runnable_in_best[k]->summary);
    EXPECT_EQ(result.runnable[k].rank, runnable_in_best[k]->rank);
  }
  EXPECT_EQ(result.best.front().rank, 1);
}

}  // namespace
}  // namespace behemoth
