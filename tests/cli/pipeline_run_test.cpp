// Pipelines end to end through `behemoth run`: a stage that dies mid-step ends the run with one
// line naming the rank while its neighbour's log names the stage and the action it was waiting on;
// a traced run writes every rank's timeline and the per-stage bubble; checkpoints move between
// pipeline and non-pipeline layouts and resume exactly.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "backend/pipeline/step_trace.h"
#include "tests/cli/cli_test_support.h"

namespace behemoth {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json pipelineProject(const std::string& out_dir, int steps, int pp) {
  json project = tinyProjectJson(out_dir, steps);
  project["model"]["n_layer"] = 4;
  project["parallel"]["pp"] = pp;
  project["train"]["micro_batch_size"] = 2;
  return project;
}

std::vector<json> stepEvents(const std::string& metrics_path) {
  std::vector<json> events;
  std::istringstream lines(readFile(metrics_path));
  for (std::string line; std::getline(lines, line);) {
    const json event = json::parse(line);
    if (event.value("event", "") == "step") events.push_back(event);
  }
  return events;
}

TEST(PipelineRun, AStageThatDiesEndsTheRunNamingTheRankTheStageAndTheAction) {
  TempDir dir;
  writeFile(dir.file("p.json"), pipelineProject(dir.file("out"), 6, 2).dump());
  const CommandResult result = runBehemoth({"run", dir.file("p.json"), "--nproc", "2", "--no-history"},
                                           std::chrono::seconds(120), {"BEHEMOTH_TEST_KILL_AT=1:2"});
  EXPECT_EQ(result.exit_code, 1) << result.stderr_text;
  EXPECT_NE(result.stderr_text.find("run failed: rank 1"), std::string::npos) << result.stderr_text;
  EXPECT_EQ(result.stderr_text.find("frame #"), std::string::npos) << result.stderr_text;
  // Stage 0 was blocked on its neighbour: its log says which transfer of which micro-batch.
  const std::string log = readFile(dir.file("out") + "/worker-0.log");
  EXPECT_NE(log.find("rank 0: pipeline stage 0 "), std::string::npos) << log;
  EXPECT_NE(log.find("micro-batch"), std::string::npos) << log;
  EXPECT_NE(log.find("from stage 1"), std::string::npos) << log;
}

TEST(PipelineRun, ATracedRunWritesEveryActionOfEveryRankAndTheBubblePerStage) {
  TempDir dir;
  json project = pipelineProject(dir.file("out"), 2, 2);
  project["train"]["trace"] = true;
  writeFile(dir.file("p.json"), project.dump());
  const CommandResult result = runBehemoth({"run", dir.file("p.json"), "--nproc", "2", "--no-history"});
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const std::vector<StepTrace> traces = readStepTraces(dir.file("out"));
  ASSERT_EQ(traces.size(), 4u);  // 2 steps x 2 ranks
  for (const StepTrace& trace : traces) {
    // 4 micro-batches: a forward and a backward each, and one transfer beside each of them.
    EXPECT_EQ(trace.actions.size(), 16u) << "rank " << trace.rank;
    EXPECT_EQ(trace.stage, trace.rank);
    for (const TimedAction& timed : trace.actions) EXPECT_LE(timed.start, timed.end);
  }
  for (const json& event : stepEvents(dir.file("out") + "/metrics.jsonl")) {
    ASSERT_TRUE(event.contains("pipeline_bubble")) << event.dump();
    ASSERT_EQ(event["pipeline_bubble"].size(), 2u);
    for (const json& bubble : event["pipeline_bubble"]) {
      EXPECT_GE(bubble.get<double>(), 0.0);
      EXPECT_LT(bubble.get<double>(), 1.0);
    }
  }
}

// Train 2 steps in layout `first`, resume to 4 in layout `second`: the same losses as 4 steps in one go.
void expectResumeAcrossLayouts(int first_pp, int second_pp) {
  TempDir dir;
  writeFile(dir.file("whole.json"), pipelineProject(dir.file("whole"), 4, 1).dump());
  ASSERT_EQ(runBehemoth({"run", dir.file("whole.json"), "--nproc", "2", "--no-history"}).exit_code, 0);
  const std::vector<double> expected = lossesIn(dir.file("whole") + "/metrics.jsonl");
  ASSERT_EQ(expected.size(), 4u);

  writeFile(dir.file("first.json"), pipelineProject(dir.file("run"), 2, first_pp).dump());
  const CommandResult first = runBehemoth({"run", dir.file("first.json"), "--nproc", "2", "--no-history"});
  ASSERT_EQ(first.exit_code, 0) << first.stderr_text;
  writeFile(dir.file("second.json"), pipelineProject(dir.file("run"), 4, second_pp).dump());
  const CommandResult second =
      runBehemoth({"run", dir.file("second.json"), "--nproc", "2", "--no-history", "--resume", "latest"});
  ASSERT_EQ(second.exit_code, 0) << second.stderr_text;
  const std::vector<double> resumed = lossesIn(dir.file("run") + "/metrics.jsonl");
  ASSERT_EQ(resumed.size(), 4u);
  for (std::size_t k = 0; k < 4; ++k) EXPECT_NEAR(resumed[k], expected[k], 1e-5 * expected[k]) << "step " << k + 1;
}

TEST(PipelineRun, ACheckpointOfTwoStagesResumesAsDataParallel) { expectResumeAcrossLayouts(2, 1); }

TEST(PipelineRun, ADataParallelCheckpointResumesAsTwoStages) { expectResumeAcrossLayouts(1, 2); }

}  // namespace
}  // namespace behemoth
