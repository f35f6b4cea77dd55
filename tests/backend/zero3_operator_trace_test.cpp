// ZeRO-3 watches memory at every operator, not only where chunks move: auto placement's first
// step traces the non-model memory of each stage at all its operators (a block's attention scores
// and MLP activations live and die inside the block, unseen at its boundaries), the chunk record
// keeps that trace, and a device budget is checked at every operator, so an overrun between two
// gathers fails naming the operator, the rank and the figures.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <string>

#include "backend/train/chunk_record.h"
#include "tests/support/command.h"
#include "tests/support/multiprocess.h"
#include "tests/support/parity.h"

namespace behemoth {
namespace {

// States that outweigh the activations, so a budget can sit below them (as in parity_zero3_test).
Project tracedProject() {
  Project project = tinyProject(Arch::gpt);
  project.model.d_model = 64;
  project.plan.zero = 3;
  project.plan.chunk_mb = 0.07;
  project.plan.placement = "auto";
  project.plan.offload_optim_fraction = 1.0;
  project.plan.device_budget_mb = 0.8;
  project.train.micro_batch_size = 1;
  project.train.steps = 2;
  return project;
}

// Trains on `nproc` ranks writing into one out_dir; returns the first failing rank's message ("" if
// every rank finished).
std::string trainSharingOutDir(Project project, int nproc, const std::string& out_dir) {
  project.plan.dp = -1;
  validateForWorld(project, nproc);
  project.train.out_dir = out_dir;
  const RankRun run = runOnRanks(nproc, [&](const WorldInfo& info) {
    ProcessWorld world(info, project.plan);
    Trainer trainer(project, world, TrainerOptions{});
    trainer.run(nullptr);
  });
  for (const auto& outcome : run) {
    if (!outcome.ok) return outcome.message;
  }
  return "";
}

nlohmann::json readJson(const std::filesystem::path& file) {
  std::ifstream in(file);
  return nlohmann::json::parse(in);
}

TEST(Zero3OperatorTrace, AutoPlacementTracesEveryOperatorOfEveryStage) {
  const TempDir dir;
  const Project project = tracedProject();
  ASSERT_EQ(trainSharingOutDir(project, 2, dir.file("run")), "");
  const nlohmann::json record = readJson(chunkRecordFile(dir.file("run"), 0));
  const nlohmann::json& trace = record.at("non_model_trace");
  const int stages = project.model.n_layer + 2;  // embed, blocks, head
  ASSERT_EQ(trace.size(), static_cast<std::size_t>(2 * stages));
  for (const auto& point : trace) {
    SCOPED_TRACE(point.dump());
    std::cout << point.dump() << "\n";
    EXPECT_GT(point.at("operators").get<std::int64_t>(), 0);
    const auto peak = point.at("peak_bytes").get<std::int64_t>();
    const auto entry = point.at("entry_bytes").get<std::int64_t>();
    EXPECT_GE(peak, entry);
    // Inside every block, forward and backward, memory rises above what the block began with: a
    // trace taken at stage boundaries alone would reserve too little there.
    if (point.at("stage").get<std::string>().rfind("block", 0) == 0) {
      EXPECT_GT(peak, entry);
    }
  }
  // Forward positions come first, in stage order; backward positions mirror them.
  EXPECT_EQ(trace.front().at("stage"), "embed");
  EXPECT_EQ(trace.front().at("phase"), "forward");
  EXPECT_EQ(trace.back().at("stage"), "embed");
  EXPECT_EQ(trace.back().at("phase"), "backward");
}

TEST(Zero3OperatorTrace, AnOverrunBetweenGathersFailsNamingTheOperator) {
  const TempDir dir;
  Project project = tracedProject();
  project.plan.placement = "static";
  project.plan.offload_optim_fraction = 0.0;
  project.plan.device_budget_mb = 64.0;  // roomy: the run measures its device peak at every operator
  project.train.steps = 1;
  const ParityRun roomy = trainOnRanks(project, 2);
  ASSERT_EQ(roomy.step_events.size(), 1u);
  const auto peaks = roomy.step_events.front().at("rank_device_peak_bytes").get<std::vector<std::int64_t>>();
  const std::int64_t peak = *std::max_element(peaks.begin(), peaks.end());
  // 64 bytes under the peak: every gather's chunk still fits, one moment of the step does not.
  project.plan.device_budget_mb = static_cast<double>(peak - 64) / (1024.0 * 1024.0);
  const std::string error = trainSharingOutDir(project, 2, dir.file("tight"));
  std::cout << "refused: " << error << "\n";
  EXPECT_EQ(error.rfind("parallel.device_budget_mb: rank ", 0), 0u) << error;
  EXPECT_NE(error.find("operator aten::"), std::string::npos) << error;
  EXPECT_NE(error.find("over the budget of"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

}  // namespace
}  // namespace behemoth
