// `behemoth plan --schedule-json` (the project's schedule as data) and `behemoth trace OUT_DIR`
// (the measured timeline), end to end through the executable.
#include <gtest/gtest.h>

#include <filesystem>

#include "backend/pipeline/step_trace.h"
#include "parallel/pipeline/pipeline_schedule.h"
#include "tests/cli/cli_test_support.h"

namespace behemoth {
namespace {

nlohmann::json pipelineProject(const std::string& out_dir) {
  auto project = tinyProjectJson(out_dir);
  project["model"]["n_layer"] = 4;
  project["train"]["micro_batch_size"] = 2;  // 8 sequences on one dp rank: 4 micro-batches
  project["parallel"] = {{"dp", -1}, {"pp", 2}, {"pp_schedule", "interleaved"}, {"pp_virtual", 2}};
  return project;
}

TEST(ScheduleJson, PrintsTheProjectsScheduleAndItsSimulation) {
  TempDir dir;
  writeFile(dir.file("p.json"), pipelineProject(dir.file("out")).dump());
  const CommandResult result = runBehemoth({"plan", dir.file("p.json"), "--schedule-json"});
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto out = nlohmann::json::parse(result.stdout_text);
  EXPECT_EQ(out.at("schedule"), "interleaved");
  EXPECT_EQ(out.at("pp"), 2);
  EXPECT_EQ(out.at("pp_virtual"), 2);
  EXPECT_EQ(out.at("micro_batches"), 4);
  EXPECT_EQ(out.at("stage_blocks"), nlohmann::json::parse("[[0,1],[1,1],[2,1],[3,1]]"));
  const PipelineSchedulePlan expected = interleavedSchedule({2, 2, 4});
  ASSERT_EQ(out.at("ranks").size(), 2u);
  for (int r = 0; r < 2; ++r) {
    const auto& actions = out.at("ranks").at(r);
    ASSERT_EQ(actions.size(), expected[r].size());
    for (std::size_t i = 0; i < actions.size(); ++i) {
      EXPECT_EQ(actions[i].at("kind"), pipelineActionName(expected[r][i].kind));
      EXPECT_EQ(actions[i].at("micro_batch"), expected[r][i].micro_batch);
      EXPECT_EQ(actions[i].at("chunk"), expected[r][i].chunk);
    }
  }
  // Unit costs: makespan 3 (v m + p - 1), bubble (p-1)/(v m + p-1) = 1/9 on both ranks.
  EXPECT_EQ(out.at("simulated").at("makespan").get<double>(), 27.0);
  for (const auto& bubble : out.at("simulated").at("bubble_fraction")) EXPECT_NEAR(bubble.get<double>(), 1.0 / 9.0, 1e-12);
  EXPECT_EQ(out.at("simulated").at("peak_in_flight"), nlohmann::json::parse("[5,3]"));

  // --set reaches the schedule; the plain 1f1b default needs no pipeline keys.
  const CommandResult gpipe =
      runBehemoth({"plan", dir.file("p.json"), "--schedule-json", "--set", "parallel.pp_schedule=\"gpipe\"", "--set", "parallel.pp_virtual=1"});
  ASSERT_EQ(gpipe.exit_code, 0) << gpipe.stderr_text;
  EXPECT_EQ(nlohmann::json::parse(gpipe.stdout_text).at("simulated").at("peak_in_flight"), nlohmann::json::parse("[4,4]"));
  writeFile(dir.file("flat.json"), tinyProjectJson(dir.file("out")).dump());
  const CommandResult flat = runBehemoth({"plan", dir.file("flat.json"), "--schedule-json"});
  ASSERT_EQ(flat.exit_code, 0) << flat.stderr_text;
  EXPECT_EQ(nlohmann::json::parse(flat.stdout_text).at("schedule"), "1f1b");
  EXPECT_EQ(nlohmann::json::parse(flat.stdout_text).at("ranks").size(), 1u);
}

TEST(ScheduleJson, AShapeTheScheduleCannotRunIsOneLineNamingTheField) {
  TempDir dir;
  auto project = pipelineProject(dir.file("out"));
  project["train"]["micro_batch_size"] = 8;  // one micro-batch for two stages
  writeFile(dir.file("p.json"), project.dump());
  const CommandResult result = runBehemoth({"plan", dir.file("p.json"), "--schedule-json"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.stderr_text.find(dir.file("p.json") + ": train.micro_batch_size"), std::string::npos) << result.stderr_text;
  EXPECT_EQ(std::count(result.stderr_text.begin(), result.stderr_text.end(), '\n'), 1) << result.stderr_text;
}

// Writes the traces of `schedule` simulated with unit costs as rank files, for `steps` steps.
void writeSimulatedTraces(const std::string& out_dir, const PipelineSchedulePlan& schedule, const PipelineShape& shape,
                          int steps, int dp_rank) {
  const PipelineTimeline t = simulatePipeline(schedule, shape);
  std::filesystem::create_directories(traceDirectory(out_dir));
  for (int stage = 0; stage < shape.stages; ++stage) {
    const int rank = dp_rank * shape.stages + stage;
    std::string text;
    for (int step = 1; step <= steps; ++step) {
      StepTrace trace;
      trace.step = step;
      trace.rank = rank;
      trace.stage = stage;
      trace.pp = shape.stages;
      trace.dp_rank = dp_rank;
      trace.step_start = 100.0 * step;
      trace.actions = t.ranks[stage];
      text += stepTraceToJsonLine(trace) + "\n";
    }
    writeFile(traceFile(out_dir, rank).string(), text);
  }
}

TEST(TraceCommand, PrintsEachStagesBubbleBusyTimeAndTimelineWithTheTheory) {
  TempDir dir;
  const PipelineShape shape{2, 1, 4};
  writeSimulatedTraces(dir.path(), gpipeSchedule(shape), shape, 2, 0);
  writeSimulatedTraces(dir.path(), zeroBubbleSchedule(shape), shape, 2, 1);
  const CommandResult result = runBehemoth({"trace", dir.path(), "--width", "15"});
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const std::string& out = result.stdout_text;
  // GPipe pp 2, m 4, F 1, B 2: 15 units; each stage idles 3 of them.
  EXPECT_NE(out.find("step 1, pipeline dp_rank 0 tp_rank 0: gpipe, pp 2, 4 micro-batches, span 15000.000 ms"), std::string::npos) << out;
  EXPECT_NE(out.find("theory bubble (p-1)/(m+p-1) = 0.200"), std::string::npos) << out;
  EXPECT_NE(out.find("stage 0 (rank 0)  bubble 0.200  busy 12.000000 s  |FFFF...BBBBBBBB|"), std::string::npos) << out;
  EXPECT_NE(out.find("stage 1 (rank 1)  bubble 0.200  busy 12.000000 s  |.FFFFBBBBBBBB..|"), std::string::npos) << out;
  // ZB-H1 on the second pipeline: 13 units, one idle per stage.
  EXPECT_NE(out.find("step 2, pipeline dp_rank 1 tp_rank 0: zero_bubble"), std::string::npos) << out;
  EXPECT_NE(out.find("theory bubble (p-1)/(3m+p-1) = 0.077"), std::string::npos) << out;
  EXPECT_NE(out.find("stage 0 (rank 2)  bubble 0.077"), std::string::npos) << out;

  const CommandResult last = runBehemoth({"trace", dir.path(), "--steps", "1"});
  ASSERT_EQ(last.exit_code, 0) << last.stderr_text;
  EXPECT_EQ(last.stdout_text.find("step 1,"), std::string::npos) << last.stdout_text;
  EXPECT_NE(last.stdout_text.find("step 2, pipeline dp_rank 0"), std::string::npos) << last.stdout_text;
  const auto row = last.stdout_text.find('|');
  ASSERT_NE(row, std::string::npos);
  EXPECT_EQ(last.stdout_text.find('|', row + 1) - row - 1, 80u);  // default width
}

TEST(TraceCommand, AMissingFolderOrABadFileIsOneLineNamingThePath) {
  TempDir dir;
  const CommandResult missing = runBehemoth({"trace", dir.file("nowhere")});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.stderr_text, "behemoth: " + dir.file("nowhere") + "/trace: no such folder\n");

  const PipelineShape shape{2, 1, 2};
  writeSimulatedTraces(dir.path(), oneFOneBSchedule(shape), shape, 1, 0);
  const std::string file = traceFile(dir.path(), 1).string();
  writeFile(file, readFile(file) + "{\"step\": 2, \"rank\": 1}\n");
  const CommandResult bad = runBehemoth({"trace", dir.path()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.stderr_text.find(file + ":2: missing \"stage\""), std::string::npos) << bad.stderr_text;
  EXPECT_EQ(std::count(bad.stderr_text.begin(), bad.stderr_text.end(), '\n'), 1) << bad.stderr_text;
}

}  // namespace
}  // namespace behemoth
