// Step metrics JSON, the event builders, the sinks and the progress line.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

#include "backend/metrics/event_sink.h"
#include "backend/metrics/events.h"
#include "backend/metrics/progress_printer.h"
#include "tests/backend/project_test_support.h"

namespace behemoth {
namespace {

using nlohmann::json;

StepMetrics sampleMetrics() {
  StepMetrics m;
  m.step = 120;
  m.loss = 2.3141;
  m.grad_norm = 0.75;
  m.lr = 0.0025;
  m.step_time_s = 0.4;
  m.tokens_per_s = 1234.0;
  m.model_state_bytes = 4000000;
  m.peak_rss_bytes = 210000000;
  m.comm_bytes = 1300000;
  m.comm_bytes_by_axis = {{"dp", 1300000}};
  m.tokens_seen = 122880;
  m.elapsed_s = 48.0;
  return m;
}

TEST(StepMetricsJson, Zero3TierFieldsRoundTripAndStayAbsentOtherwise) {
  StepMetrics m = sampleMetrics();
  EXPECT_FALSE(m.toJson().contains("rank_device_bytes"));
  m.rank_device_bytes = {10, 11};
  m.rank_device_peak_bytes = {20, 21};
  m.rank_host_bytes = {30, 31};
  m.rank_disk_bytes = {40, 41};
  m.rank_tier_moved_bytes = {50, 51};
  m.rank_device_chunks = {1, 2};
  m.rank_host_chunks = {3, 4};
  m.rank_disk_chunks = {5, 6};
  const json out = m.toJson();
  EXPECT_EQ(out.at("rank_disk_chunks"), json::array({5, 6}));
  const StepMetrics back = StepMetrics::fromJson(out);
  EXPECT_EQ(back.rank_device_peak_bytes, m.rank_device_peak_bytes);
  EXPECT_EQ(back.rank_tier_moved_bytes, m.rank_tier_moved_bytes);
  EXPECT_EQ(back.rank_host_chunks, m.rank_host_chunks);
  json bad = out;
  bad["rank_host_bytes"] = json::array({1.5});
  EXPECT_THROW(StepMetrics::fromJson(bad), std::invalid_argument);
}

TEST(StepMetricsJson, HasTheDocumentedFieldsAndRoundTrips) {
  StepMetrics m = sampleMetrics();
  m.eval_loss = 2.4;
  const json out = m.toJson();
  for (const char* field : {"step", "loss", "grad_norm", "lr", "step_time_s", "tokens_per_s", "model_state_bytes",
                            "peak_rss_bytes", "comm_bytes", "comm_bytes_by_axis", "tokens_seen", "elapsed_s", "eval_loss"}) {
    EXPECT_TRUE(out.contains(field)) << field;
  }
  EXPECT_EQ(out["comm_bytes_by_axis"]["dp"], json(1300000));
  const StepMetrics back = StepMetrics::fromJson(json::parse(out.dump()));
  EXPECT_EQ(back.step, 120);
  EXPECT_EQ(back.loss, m.loss);
  EXPECT_EQ(back.grad_norm, m.grad_norm);
  EXPECT_EQ(back.lr, m.lr);
  EXPECT_EQ(back.peak_rss_bytes, m.peak_rss_bytes);
  EXPECT_EQ(back.comm_bytes_by_axis, m.comm_bytes_by_axis);
  EXPECT_EQ(back.eval_loss, std::optional<double>(2.4));
  EXPECT_EQ(back.tokens_seen, m.tokens_seen);
  EXPECT_FALSE(sampleMetrics().toJson().contains("eval_loss"));
}

TEST(StepMetricsJson, PerRankFiguresRoundTripAndBadOnesAreNamed) {
  StepMetrics m = sampleMetrics();
  EXPECT_FALSE(m.toJson().contains("rank_peak_rss_bytes"));  // absent when the producer has none
  m.rank_model_state_bytes = {7000, 7008};
  m.rank_peak_rss_bytes = {200000000, 210000000};
  const StepMetrics back = StepMetrics::fromJson(json::parse(m.toJson().dump()));
  EXPECT_EQ(back.rank_model_state_bytes, m.rank_model_state_bytes);
  EXPECT_EQ(back.rank_peak_rss_bytes, m.rank_peak_rss_bytes);
  json bad = m.toJson();
  bad["rank_peak_rss_bytes"] = {1, "two"};
  try {
    StepMetrics::fromJson(bad);
    ADD_FAILURE() << "a non-integer per-rank figure was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_STREQ(error.what(), "step metrics: rank_peak_rss_bytes: expected integers, got \"two\"");
  }
}

TEST(StepMetricsJson, DivergedLossReadsBackAsNaNAndStepIsRequired) {
  StepMetrics m = sampleMetrics();
  m.loss = std::nan("");
  const StepMetrics back = StepMetrics::fromJson(json::parse(m.toJson().dump()));
  EXPECT_TRUE(std::isnan(back.loss));
  EXPECT_THROW(StepMetrics::fromJson(json{{"loss", 1.0}}), std::invalid_argument);
  EXPECT_THROW(StepMetrics::fromJson(json{{"step", 1}, {"loss", "x"}}), std::invalid_argument);
}

TEST(Events, BuildersSetTheEventType) {
  RunStartedInfo info;
  info.name = "tiny";
  info.world_size = 2;
  info.parameter_count = 42;
  const json started = runStartedEvent(info);
  EXPECT_EQ(eventType(started), "run_started");
  EXPECT_EQ(started["world_size"], json(2));
  EXPECT_EQ(started["parameter_count"], json(42));
  EXPECT_EQ(started["time"].get<std::string>().size(), 20u);  // 2024-05-01T12:34:56Z
  EXPECT_EQ(eventType(stepEvent(sampleMetrics())), "step");
  EXPECT_EQ(stepEvent(sampleMetrics())["loss"], json(2.3141));
  EXPECT_EQ(evalEvent(50, 2.5), json({{"event", "eval"}, {"step", 50}, {"eval_loss", 2.5}}));
  EXPECT_EQ(eventType(logEvent("hi")), "log");
  const json finished = runFinishedEvent(1.5, 1.6, 30.0);
  EXPECT_EQ(finished["outcome"], json("completed"));
  EXPECT_EQ(finished["final_eval_loss"], json(1.6));
  EXPECT_EQ(runFailedEvent("boom", 3)["rank"], json(3));
  EXPECT_EQ(eventType(json::array()), "");
}

TEST(EventSinks, MarkerLinesRoundTripThroughText) {
  std::ostringstream stream;
  MarkerLineSink sink(stream);
  const json event = stepEvent(sampleMetrics());
  sink.emit(event);
  sink.emit(logEvent("multi\nline"));
  std::istringstream lines("plain worker output\n" + stream.str());
  std::string line;
  std::vector<json> parsed;
  while (std::getline(lines, line)) {
    if (auto found = parseMarkerLine(line)) parsed.push_back(*found);
  }
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[0], event);
  EXPECT_EQ(parsed[1]["text"], json("multi\nline"));
  EXPECT_FALSE(parseMarkerLine("@behemoth-event {broken").has_value());
  EXPECT_FALSE(parseMarkerLine("@behemoth-event [1,2]").has_value());
  EXPECT_TRUE(parseMarkerLine("@behemoth-event {\"event\":\"log\"}\r").has_value());
}

TEST(EventSinks, MetricsFileKeepsStepEvalAndCheckpointEventsOneLineEach) {
  testing::ScratchDir dir;
  const std::string out_dir = dir.file("runs/x");
  {
    auto sink = makeMetricsFileSink(out_dir);
    sink->emit(runStartedEvent({}));
    sink->emit(stepEvent(sampleMetrics()));
    sink->emit(logEvent("ignored"));
    sink->emit(evalEvent(120, 2.5));
    CheckpointSavedInfo saved;
    saved.step = 120;
    sink->emit(checkpointSavedEvent(saved));
  }
  {
    auto again = makeMetricsFileSink(out_dir);  // appends
    again->emit(stepEvent(sampleMetrics()));
  }
  std::ifstream file(out_dir + "/metrics.jsonl");
  std::vector<std::string> types;
  std::string line;
  while (std::getline(file, line)) types.push_back(eventType(json::parse(line)));
  EXPECT_EQ(types, (std::vector<std::string>{"step", "eval", "checkpoint_saved", "step"}));
}

TEST(EventSinks, FanoutReachesEverySinkEvenWhenOneThrows) {
  std::vector<std::string> seen;
  FanoutSink fanout;
  fanout.add(std::make_shared<CallbackSink>([&](const json& e) { seen.push_back("a:" + eventType(e)); }));
  fanout.add(std::make_shared<CallbackSink>([](const json&) { throw std::runtime_error("sink broke"); }));
  fanout.add(std::make_shared<CallbackSink>([&](const json& e) { seen.push_back("c:" + eventType(e)); }));
  EXPECT_THROW(fanout.emit(logEvent("x")), std::runtime_error);
  EXPECT_EQ(seen, (std::vector<std::string>{"a:log", "c:log"}));
}

TEST(Progress, FormatsUnitsAndDurations) {
  EXPECT_EQ(formatCount(950), "950");
  EXPECT_EQ(formatCount(1234), "1.2k");
  EXPECT_EQ(formatCount(2.5e6), "2.5M");
  EXPECT_EQ(formatBytes(210e6), "210 MB");
  EXPECT_EQ(formatBytes(1.3e6), "1.3 MB");
  EXPECT_EQ(formatBytes(512), "512 B");
  EXPECT_EQ(formatDuration(42), "0:42");
  EXPECT_EQ(formatDuration(3725), "1:02:05");
}

TEST(Progress, LineShowsLossEvalThroughputMemoryCommAndEta) {
  // 48 s for 120 steps = 0.4 s/step; 180 steps left = 72 s.
  EXPECT_EQ(formatProgressLine(sampleMetrics(), 300, 2.4),
            "step 120/300  loss 2.314  eval 2.400  1.2k tok/s  rss 210 MB  comm 1.3 MB/step  ETA 1:12");
  EXPECT_EQ(formatProgressLine(sampleMetrics(), 0, std::nullopt),
            "step 120  loss 2.314  1.2k tok/s  rss 210 MB  comm 1.3 MB/step");

  StepMetrics zero3 = sampleMetrics();
  zero3.rank_device_bytes = {2000000, 2100000};
  zero3.rank_host_bytes = {500000, 500000};
  zero3.rank_disk_bytes = {0, 0};
  zero3.rank_tier_moved_bytes = {1500000, 1500000};
  EXPECT_EQ(formatProgressLine(zero3, 0, std::nullopt),
            "step 120  loss 2.314  1.2k tok/s  rss 210 MB  comm 1.3 MB/step  dev/host/disk 2.0 MB/500 kB/0 B  moved 1.5 MB");

  std::ostringstream out;
  ProgressPrinter printer(out);
  RunStartedInfo info;
  info.total_steps = 300;
  printer.emit(runStartedEvent(info));
  printer.emit(evalEvent(100, 2.4));
  printer.emit(stepEvent(sampleMetrics()));
  EXPECT_NE(out.str().find("step 120/300  loss 2.314  eval 2.400"), std::string::npos) << out.str();
}

TEST(Progress, AResumedRunSaysWhereFromAndItsEtaCountsOnlyItsOwnSteps) {
  std::ostringstream out;
  ProgressPrinter printer(out);
  RunStartedInfo info;
  info.total_steps = 300;
  printer.emit(runStartedEvent(info));
  printer.emit(runResumedEvent(60, "out/checkpoints/step-0000060", "dp 2", 0.5, 1200000));
  CheckpointSavedInfo saved;
  saved.step = 100;
  saved.path = "out/checkpoints/step-0000100";
  saved.bytes = 2500000;
  saved.write_s = 0.25;
  printer.emit(checkpointSavedEvent(saved));
  // 48 s for the 60 steps since the resume = 0.8 s/step; 180 steps left = 144 s.
  printer.emit(stepEvent(sampleMetrics()));
  const std::string text = out.str();
  EXPECT_NE(text.find("resumed from out/checkpoints/step-0000060 at step 60 (saved by dp 2), 1.2 MB read in 0.50 s\n"), std::string::npos) << text;
  EXPECT_NE(text.find("checkpoint at step 100: out/checkpoints/step-0000100 (2.5 MB, 0.25 s)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ETA 2:24\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace behemoth
