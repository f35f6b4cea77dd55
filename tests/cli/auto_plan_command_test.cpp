// Runnable marking in `behemoth plan --search` and `behemoth run --auto-plan`: the plans the search
// ranks are marked with the reason this build cannot run them, and --auto-plan runs the fastest
// runnable one (or says in one line why none can run).
#include <gtest/gtest.h>

#include <sstream>

#include "tests/cli/cli_test_support.h"

namespace behemoth {
namespace {

using nlohmann::json;

json searchJson(const std::string& project, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"plan", project, "--search", "--json", "--cpu-flops", "1e10"};
  args.insert(args.end(), extra.begin(), extra.end());
  const CommandResult result = runBehemoth(args, std::chrono::seconds(60));
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  return json::parse(result.stdout_text).at("search");
}

// The first event of a kind in a `--events` stream.
json firstEvent(const std::string& events, const std::string& kind) {
  std::istringstream lines(events);
  for (std::string line; std::getline(lines, line);) {
    json event = json::parse(line);
    if (event.value("event", "") == kind) return event;
  }
  ADD_FAILURE() << "no " << kind << " event in\n" << events;
  return json::object();
}

TEST(AutoPlanCommand, PlanSearchMarksWhatThisBuildCannotRun) {
  TempDir dir;
  writeFile(dir.file("p.json"), tinyProjectJson(dir.file("out")).dump());
  const json search = searchJson(dir.file("p.json"), {"--keep", "1000", "--keep-runnable", "3"});
  ASSERT_LE(search.at("fitting").get<int>(), 1000);  // every fitting plan is in `best`
  int zero3 = 0, zero3_pp = 0, sp = 0, recompute = 0, runnable_dp = 0, refused = 0;
  for (const json& plan : search.at("best")) {
    const json& layout = plan.at("estimate").at("layout");
    const bool runnable = plan.at("runnable").get<bool>();
    const std::string reason = plan.value("not_runnable", "");
    EXPECT_EQ(runnable, reason.empty()) << plan.dump();
    refused += runnable ? 0 : 1;
    if (layout.at("sp").get<int>() > 1) {
      // Sequence parallelism runs with every axis; ZeRO-3 with pp stays refused.
      ++sp;
      if (layout.at("pp").get<int>() > 1 && layout.at("zero").get<int>() == 3) {
        EXPECT_EQ(reason.rfind("parallel.zero: ZeRO stage 3 with pipeline parallelism", 0), 0u) << plan.dump();
      } else if (layout.at("tp").get<int>() == 1) {
        EXPECT_TRUE(runnable) << plan.dump();
      }
    } else if (layout.at("zero").get<int>() == 3) {
      // ZeRO-3 runs, except with pipeline parallelism.
      ++zero3;
      if (layout.at("pp").get<int>() > 1) {
        ++zero3_pp;
        EXPECT_EQ(reason.rfind("parallel.zero: ZeRO stage 3 with pipeline parallelism", 0), 0u) << plan.dump();
      } else if (layout.at("tp").get<int>() == 1) {
        EXPECT_TRUE(runnable) << plan.dump();
      }
    } else if (layout.at("recompute").get<std::string>() != "none") {
      // Recomputation runs: a plan with it is refused only for what else it asks for.
      ++recompute;
      if (layout.at("tp").get<int>() == 1) EXPECT_TRUE(runnable) << plan.dump();
    } else if (layout.at("tp").get<int>() == 1) {
      runnable_dp += runnable ? 1 : 0;
      EXPECT_TRUE(runnable) << plan.dump();
    }
  }
  EXPECT_GT(sp, 0);
  EXPECT_GT(zero3, 0);
  EXPECT_GT(recompute, 0);
  EXPECT_GT(runnable_dp, 0);
  // The runnable list: the first runnable plans of `best`, each with the --set overrides that apply it.
  const json& runnable = search.at("runnable");
  ASSERT_EQ(runnable.size(), 3u);
  std::vector<json> runnable_in_best;
  for (const json& plan : search.at("best")) {
    if (plan.at("runnable").get<bool>()) runnable_in_best.push_back(plan);
  }
  for (std::size_t k = 0; k < runnable.size(); ++k) {
    EXPECT_EQ(runnable[k].at("summary"), runnable_in_best.at(k).at("summary"));
    EXPECT_EQ(runnable[k].at("rank"), runnable_in_best.at(k).at("rank"));
    EXPECT_FALSE(runnable[k].at("set").empty());
  }

  const CommandResult text =
      runBehemoth({"plan", dir.file("p.json"), "--search", "--cpu-flops", "1e10", "--keep", "1000"}, std::chrono::seconds(60));
  ASSERT_EQ(text.exit_code, 0) << text.stderr_text;
  EXPECT_NE(text.stdout_text.find(" runnable "), std::string::npos) << text.stdout_text;
  if (refused > 0) {
    for (const char* expected : {"NOT RUNNABLE", "cannot run: "}) {
      EXPECT_NE(text.stdout_text.find(expected), std::string::npos) << expected << "\n" << text.stdout_text;
    }
  }
  if (zero3_pp > 0) {
    EXPECT_NE(text.stdout_text.find("cannot run: parallel.zero: ZeRO stage 3 with pipeline parallelism"), std::string::npos)
        << text.stdout_text;
  }
}

TEST(AutoPlanCommand, RunsTheFastestRunnablePlanOnItsWorld) {
  TempDir dir;
  json project = tinyProjectJson(dir.file("out"), 2);
  project["parallel"] = {{"dp", -1}, {"sp", 2}};  // the project's own plan is not what runs
  writeFile(dir.file("p.json"), project.dump());
  const std::string db = dir.file("history.sqlite");
  const CommandResult run = runBehemoth({"run", dir.file("p.json"), "--auto-plan", "--history", db, "--events"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  // Under --events the choice is said on stderr: stdout is the event stream.
  const std::size_t line = run.stderr_text.find("behemoth: auto plan: ");
  ASSERT_NE(line, std::string::npos) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("predicted step", line), std::string::npos) << run.stderr_text;

  // The record: the chosen plan is the search's first runnable one, and every plan ranked above
  // it is one this build cannot run.
  const json record = json::parse(readFile(dir.file("out/auto_plan.json")));
  const json& chosen = record.at("chosen");
  const json& search = record.at("search");
  EXPECT_EQ(chosen, search.at("runnable").at(0));
  EXPECT_TRUE(chosen.at("runnable").get<bool>());
  EXPECT_NE(run.stderr_text.find(chosen.at("summary").get<std::string>(), line), std::string::npos) << run.stderr_text;
  for (const json& plan : search.at("best")) {
    if (plan.at("rank").get<int>() < chosen.at("rank").get<int>()) {
      EXPECT_FALSE(plan.at("runnable").get<bool>()) << plan.dump();
    }
  }

  // The run is the chosen layout on its world: events, and the project as run.
  const json& layout = chosen.at("estimate").at("layout");
  const json started = firstEvent(run.stdout_text, "run_started");
  EXPECT_EQ(started.at("world_size").get<int>(), 2);
  for (const char* axis : {"dp", "pp", "tp", "sp", "ep", "zero"}) {
    EXPECT_EQ(started.at("plan").at(axis), layout.at(axis)) << axis;
  }
  EXPECT_EQ(started.at("plan").at("sequence_parallel").get<bool>(), layout.at("sequence_parallel").get<bool>());
  EXPECT_EQ(started.at("project").at("train").at("micro_batch_size"), layout.at("micro_batch_size"));
  EXPECT_EQ(lossesIn(dir.file("out/metrics.jsonl")).size(), 2u);
  // What the workers ran and what the history recorded: the chosen plan, not the file's sp 2.
  const json ran = json::parse(readFile(dir.file("out/project.json")));
  EXPECT_EQ(ran.at("parallel"), started.at("plan"));
  const CommandResult show = runBehemoth({"history", "--db", db, "show", "1"});
  ASSERT_EQ(show.exit_code, 0) << show.stderr_text;
  EXPECT_NE(show.stdout_text.find("completed"), std::string::npos) << show.stdout_text;
  EXPECT_EQ(show.stdout_text.find("sp2"), std::string::npos) << show.stdout_text;
}

TEST(AutoPlanCommand, NoRunnablePlanIsOneLineAndExitOne) {
#ifndef BEHEMOTH_WITH_CUDA
  TempDir dir;
  json project = tinyProjectJson(dir.file("out"), 2);
  project["devices"] = {{"kind", "cuda"}, {"count", 2}, {"memory_gb", 80}, {"name", "H100"}};
  writeFile(dir.file("p.json"), project.dump());
  const CommandResult run = runBehemoth({"run", dir.file("p.json"), "--auto-plan", "--no-history"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(std::count(run.stderr_text.begin(), run.stderr_text.end(), '\n'), 1) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("--auto-plan: none of the"), std::string::npos) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("cannot: devices.kind: cuda is not available"), std::string::npos) << run.stderr_text;
  EXPECT_EQ(run.stdout_text, "");
#endif
}

TEST(AutoPlanCommand, ChoosesItsOwnRanks) {
  TempDir dir;
  writeFile(dir.file("p.json"), tinyProjectJson(dir.file("out"), 2).dump());
  const CommandResult run = runBehemoth({"run", dir.file("p.json"), "--auto-plan", "--nproc", "2", "--no-history"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.stderr_text.find("leave out --nproc"), std::string::npos) << run.stderr_text;
}

}  // namespace
}  // namespace behemoth
