// `behemoth history show ID --vs-plan` and `history export`: a recorded dp 2 ZeRO-2 run's
// model-state bytes per rank equal the planner's, recomputed from what the history kept.
#include <gtest/gtest.h>

#include <regex>

#include "backend/history/history_store.h"
#include "backend/planning/run_against_plan.h"
#include "tests/cli/cli_test_support.h"

namespace behemoth {
namespace {

// A recorded dp 2 ZeRO-2 run of the tiny model, with train.measure_memory for activations.
std::string recordZeroTwoRun(const TempDir& dir) {
  nlohmann::json project = tinyProjectJson(dir.file("zero2"), 4);
  project["parallel"] = {{"dp", 2}, {"zero", 2}};
  project["train"]["measure_memory"] = true;
  writeFile(dir.file("zero2.json"), project.dump());
  const std::string db = dir.file("history.sqlite");
  const CommandResult run = runBehemoth({"run", dir.file("zero2.json"), "--nproc", "2", "--history", db});
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  return db;
}

TEST(HistoryVsPlan, ZeroTwoModelStatePerRankEqualsThePlanAndTheTableSaysSo) {
  TempDir dir;
  const std::string db = recordZeroTwoRun(dir);
  HistoryStore store(db);
  const auto details = store.getRun(1);
  ASSERT_TRUE(details);
  // A rate given, so the comparison does not time a matmul.
  const RunAgainstPlan comparison = compareRunWithPlan(*details, {1e9, 0.5});
  ASSERT_EQ(comparison.ranks.size(), 2u);
  for (const RankAgainstPlan& rank : comparison.ranks) {
    const PlanFigure& state = rank.figures.at(0);
    ASSERT_EQ(state.quantity, "model state");
    ASSERT_TRUE(state.predicted && state.measured) << "rank " << rank.rank;
    // The measured figure is the rank's own counter from the history, not the planner's number.
    EXPECT_EQ(*state.measured, double(details->steps.back().rank_model_state_bytes.at(rank.rank)));
    EXPECT_EQ(*state.predicted, *state.measured) << "rank " << rank.rank;
    EXPECT_EQ(rank.coordinates[static_cast<int>(Axis::dp)], rank.rank);
    const PlanFigure& activations = rank.figures.at(2);
    EXPECT_TRUE(activations.measured) << "train.measure_memory reports activations";
  }
  const PlanFigure& comm = comparison.step.at(0);
  ASSERT_TRUE(comm.measured);
  EXPECT_EQ(*comm.predicted, *comm.measured) << "ZeRO-2's reduce-scatter and all-gather bytes";

  const CommandResult shown = runBehemoth({"history", "--db", db, "show", "1", "--vs-plan"});
  ASSERT_EQ(shown.exit_code, 0) << shown.stderr_text;
  const std::regex state_line(R"(\n  ([01]) +dp[01] +model state +\S+ \S+ +\S+ \S+ +\+0\.00 %)");
  const auto lines = std::distance(std::sregex_iterator(shown.stdout_text.begin(), shown.stdout_text.end(), state_line),
                                   std::sregex_iterator());
  EXPECT_EQ(lines, 2) << shown.stdout_text;
  EXPECT_NE(shown.stdout_text.find("step time"), std::string::npos) << shown.stdout_text;
}

TEST(HistoryVsPlan, ExportRefusesAnUnknownFormatAndAMissingRun) {
  TempDir dir;
  const std::string db = recordZeroTwoRun(dir);
  const CommandResult format = runBehemoth({"history", "--db", db, "export", "1", "--format", "xml"});
  EXPECT_NE(format.exit_code, 0);
  EXPECT_NE(format.stderr_text.find("--format"), std::string::npos) << format.stderr_text;
  const CommandResult missing = runBehemoth({"history", "--db", db, "export", "7"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.stderr_text.find("no run with id 7"), std::string::npos) << missing.stderr_text;
  const CommandResult vs_plan = runBehemoth({"history", "--db", db, "show", "7", "--vs-plan"});
  EXPECT_NE(vs_plan.stderr_text.find("no run with id 7"), std::string::npos) << vs_plan.stderr_text;
}

}  // namespace
}  // namespace behemoth
