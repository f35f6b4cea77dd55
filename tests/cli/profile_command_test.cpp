// `behemoth profile` and train.profile: seconds per kind of work in the step events and a summary
// on the terminal, with the same training as a run without the profiler.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "tests/cli/cli_test_support.h"

namespace behemoth {
namespace {

std::vector<nlohmann::json> stepEvents(const std::string& text) {
  std::vector<nlohmann::json> steps;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.front() != '{') continue;
    const auto event = nlohmann::json::parse(line);
    if (event.value("event", "") == "step") steps.push_back(event);
  }
  return steps;
}

TEST(ProfileCommand, TwoRanksReportEveryKindAndTrainAsWithoutIt) {
  TempDir dir;
  writeFile(dir.file("p.json"), tinyProjectJson(dir.file("plain"), 3).dump());
  const CommandResult profiled = runBehemoth({"profile", dir.file("p.json"), "--nproc", "2", "--steps", "3", "--events"});
  ASSERT_EQ(profiled.exit_code, 0) << profiled.stderr_text;
  const auto steps = stepEvents(profiled.stdout_text);
  ASSERT_EQ(steps.size(), 3u);
  for (const auto& step : steps) {
    ASSERT_TRUE(step.contains("profile_s")) << step.dump();
    const auto& profile = step.at("profile_s");
    for (const char* kind : {"matmul", "attention", "norm", "activation", "loss", "embedding", "elementwise",
                             "optimizer", "communication", "other"}) {
      ASSERT_TRUE(profile.contains(kind)) << kind;
      EXPECT_GE(profile.at(kind).get<double>(), 0.0) << kind;
    }
    // dp 2 reduces gradients; the tiny GPT multiplies matrices and runs attention.
    EXPECT_GT(profile.at("communication").get<double>(), 0.0);
    EXPECT_GT(profile.at("matmul").get<double>(), 0.0);
    EXPECT_GT(profile.at("attention").get<double>(), 0.0);
    EXPECT_GT(profile.at("optimizer").get<double>(), 0.0);
  }

  // The same three steps without the profiler: the same losses, and no profile in the events.
  const CommandResult plain = runBehemoth({"run", dir.file("p.json"), "--nproc", "2", "--no-history", "--events"});
  ASSERT_EQ(plain.exit_code, 0) << plain.stderr_text;
  const auto plain_steps = stepEvents(plain.stdout_text);
  ASSERT_EQ(plain_steps.size(), 3u);
  for (std::size_t k = 0; k < 3; ++k) {
    EXPECT_FALSE(plain_steps[k].contains("profile_s"));
    EXPECT_DOUBLE_EQ(plain_steps[k].at("loss").get<double>(), steps[k].at("loss").get<double>()) << "step " << k + 1;
  }
}

TEST(ProfileCommand, PrintsWhereTheTimeWentAndLeavesNoFilesBehind) {
  TempDir dir;
  writeFile(dir.file("p.json"), tinyProjectJson(dir.file("out"), 3).dump());
  const CommandResult result = runBehemoth({"profile", dir.file("p.json"), "--steps", "2"});
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("time per step:"), std::string::npos) << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("where a step's time went (mean of 1 logged step after the first"), std::string::npos)
      << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("matmul"), std::string::npos);
  // The project's own out_dir is untouched: the profile ran in a scratch folder.
  EXPECT_FALSE(std::filesystem::exists(dir.file("out")));
}

TEST(ProfileCommand, RefusesZeroSteps) {
  TempDir dir;
  writeFile(dir.file("p.json"), tinyProjectJson(dir.file("out"), 3).dump());
  const CommandResult result = runBehemoth({"profile", dir.file("p.json"), "--steps", "0"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.stderr_text.find("--steps must be at least 1"), std::string::npos) << result.stderr_text;
}

}  // namespace
}  // namespace behemoth
