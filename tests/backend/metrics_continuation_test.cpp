// A resumed run continues OUT_DIR/metrics.jsonl: the steps up to the checkpoint stay, what a
// crashed attempt logged after it goes, and appending afterwards gives a file with every step once.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "backend/metrics/event_sink.h"
#include "backend/metrics/events.h"
#include "backend/metrics/metrics_continuation.h"
#include "tests/backend/project_test_support.h"

namespace behemoth {
namespace {

using nlohmann::json;
using testing::ScratchDir;

std::vector<json> eventsIn(const std::string& path) {
  std::vector<json> events;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) events.push_back(json::parse(line));  // throws on a bad line
  return events;
}

std::vector<std::int64_t> stepsOf(const std::vector<json>& events, const std::string& type) {
  std::vector<std::int64_t> steps;
  for (const json& event : events) {
    if (eventType(event) == type) steps.push_back(event.at("step").get<std::int64_t>());
  }
  return steps;
}

StepMetrics stepAt(std::int64_t step) {
  StepMetrics m;
  m.step = step;
  m.loss = 5.0 - 0.1 * static_cast<double>(step);
  return m;
}

// Steps 1..8 with an evaluation at 4 and 8, the way a run that crashed after step 8 left them, and
// the first bytes of step 9's line that the crash cut off.
std::string crashedRunMetrics() {
  std::string text;
  for (std::int64_t step = 1; step <= 8; ++step) {
    text += stepEvent(stepAt(step)).dump() + "\n";
    if (step % 4 == 0) text += evalEvent(step, 4.0).dump() + "\n";
  }
  return text + stepEvent(stepAt(9)).dump().substr(0, 25);
}

TEST(MetricsContinuation, ContinuedAtStep4KeepsSteps1To4AndTheirEvaluation) {
  ScratchDir dir;
  const std::string path = dir.write("out/metrics.jsonl", crashedRunMetrics());
  continueMetricsFile(dir.file("out"), 4);
  const std::vector<json> kept = eventsIn(path);
  EXPECT_EQ(stepsOf(kept, "step"), (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(stepsOf(kept, "eval"), (std::vector<std::int64_t>{4}));
  EXPECT_EQ(kept.size(), 5u);  // the torn line is gone too
  // No temporary file is left beside it.
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.file("out"))) ++files;
  EXPECT_EQ(files, 1u);
}

TEST(MetricsContinuation, TheResumedRunAppendsAfterTheKeptStepsWithEveryStepOnce) {
  ScratchDir dir;
  const std::string path = dir.write("out/metrics.jsonl", crashedRunMetrics());
  continueMetricsFile(dir.file("out"), 4);
  {
    const auto sink = makeMetricsFileSink(dir.file("out"));
    sink->emit(runStartedEvent({}));  // not a metrics line: the sink skips it
    for (std::int64_t step = 5; step <= 8; ++step) sink->emit(stepEvent(stepAt(step)));
  }
  const std::vector<json> events = eventsIn(path);
  EXPECT_EQ(stepsOf(events, "step"), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(MetricsContinuation, LinesWithoutAStepStayAndStartingOverDropsEveryStep) {
  ScratchDir dir;
  const std::string other = json{{"event", "log"}, {"text", "hello"}}.dump();
  const std::string path = dir.write("out/metrics.jsonl", other + "\n" + crashedRunMetrics());
  continueMetricsFile(dir.file("out"), 0);
  const std::vector<json> kept = eventsIn(path);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].dump(), other);
}

TEST(MetricsContinuation, AMissingFileStaysMissingAndAnUnreadableOneIsNamed) {
  ScratchDir dir;
  continueMetricsFile(dir.file("nothing-here"), 3);
  EXPECT_FALSE(std::filesystem::exists(dir.file("nothing-here/metrics.jsonl")));
  // A folder where the file should be: reading it fails, and the error names the path.
  std::filesystem::create_directories(dir.file("odd/metrics.jsonl"));
  try {
    truncateMetricsAfterStep(dir.file("odd/metrics.jsonl"), 3);
    ADD_FAILURE() << "a folder was accepted as a metrics file";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find(dir.file("odd/metrics.jsonl")), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace behemoth
