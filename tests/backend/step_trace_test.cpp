// The measured pipeline timeline files: a line round-trips, the folder reads in (step, rank)
// order, bad files are named by file and line, and the measured bubble of hand-made traces.
#include <gtest/gtest.h>

#include <stdexcept>

#include "backend/pipeline/step_trace.h"
#include "tests/support/command.h"

namespace behemoth {
namespace {

using K = PipelineActionKind;

StepTrace sampleTrace(int step, int rank) {
  StepTrace t;
  t.step = step;
  t.rank = rank;
  t.stage = rank;
  t.pp = 2;
  t.dp_rank = 0;
  t.tp_rank = 0;
  t.step_start = 100.25 + step;
  t.actions = {{{K::recv_forward, 0, 0}, 0.0, 0.5}, {{K::forward, 0, 0}, 0.5, 1.125}, {{K::backward_weight, 3, 1}, 1.125, 2.0}};
  return t;
}

std::string errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

TEST(StepTrace, LineRoundTripsEveryField) {
  const StepTrace t = sampleTrace(3, 1);
  const std::string line = stepTraceToJsonLine(t);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const StepTrace back = stepTraceFromJsonLine(line, "x.jsonl:1");
  EXPECT_EQ(back.step, 3);
  EXPECT_EQ(back.rank, 1);
  EXPECT_EQ(back.stage, 1);
  EXPECT_EQ(back.pp, 2);
  EXPECT_EQ(back.step_start, t.step_start);
  ASSERT_EQ(back.actions.size(), t.actions.size());
  for (std::size_t i = 0; i < t.actions.size(); ++i) {
    EXPECT_EQ(back.actions[i].action, t.actions[i].action);
    EXPECT_EQ(back.actions[i].start, t.actions[i].start);
    EXPECT_EQ(back.actions[i].end, t.actions[i].end);
  }
  EXPECT_EQ(traceFile("/o", 7), std::filesystem::path("/o/trace/rank-00007.jsonl"));
}

TEST(StepTrace, BadLinesNameTheSource) {
  EXPECT_EQ(errorOf([] { stepTraceFromJsonLine("{not json", "r.jsonl:4"); }).rfind("r.jsonl:4: ", 0), 0u);
  EXPECT_NE(errorOf([] { stepTraceFromJsonLine(R"({"rank":0})", "r.jsonl:2"); }).find("r.jsonl:2: missing \"step\""), std::string::npos);
  const std::string bad_kind = R"({"step":1,"rank":0,"stage":0,"pp":1,"dp_rank":0,"tp_rank":0,"step_start":0,)"
                               R"("actions":[{"kind":"jump","micro_batch":0,"chunk":0,"start":0,"end":1}]})";
  const std::string message = errorOf([&] { stepTraceFromJsonLine(bad_kind, "r.jsonl:9"); });
  EXPECT_NE(message.find("r.jsonl:9: action 0"), std::string::npos) << message;
  EXPECT_NE(message.find("jump"), std::string::npos) << message;
  const std::string bad_stage = R"({"step":1,"rank":0,"stage":2,"pp":2,"dp_rank":0,"tp_rank":0,"step_start":0,"actions":[]})";
  EXPECT_NE(errorOf([&] { stepTraceFromJsonLine(bad_stage, "r.jsonl:1"); }).find("r.jsonl:1: stage 2"), std::string::npos);
}

TEST(StepTrace, ReadsEveryRankInStepAndRankOrder) {
  TempDir dir;
  std::filesystem::create_directories(traceDirectory(dir.path()));
  writeFile(traceFile(dir.path(), 1).string(),
            stepTraceToJsonLine(sampleTrace(1, 1)) + "\n" + stepTraceToJsonLine(sampleTrace(2, 1)) + "\n\n");
  writeFile(traceFile(dir.path(), 0).string(), stepTraceToJsonLine(sampleTrace(2, 0)) + "\n" + stepTraceToJsonLine(sampleTrace(1, 0)) + "\n");
  writeFile(dir.file("trace/notes.txt"), "not a trace");
  const std::vector<StepTrace> traces = readStepTraces(dir.path());
  ASSERT_EQ(traces.size(), 4u);
  EXPECT_EQ((std::pair{traces[0].step, traces[0].rank}), (std::pair{1, 0}));
  EXPECT_EQ((std::pair{traces[1].step, traces[1].rank}), (std::pair{1, 1}));
  EXPECT_EQ((std::pair{traces[2].step, traces[2].rank}), (std::pair{2, 0}));
  EXPECT_EQ((std::pair{traces[3].step, traces[3].rank}), (std::pair{2, 1}));

  writeFile(traceFile(dir.path(), 1).string(), stepTraceToJsonLine(sampleTrace(1, 1)) + "\n{\"step\": \n");
  const std::string bad = errorOf([&] { readStepTraces(dir.path()); });
  EXPECT_NE(bad.find(traceFile(dir.path(), 1).string() + ":2: "), std::string::npos) << bad;

  const std::string missing = errorOf([&] { readStepTraces(dir.file("nowhere")); });
  EXPECT_NE(missing.find(dir.file("nowhere") + "/trace: no such folder"), std::string::npos) << missing;
}

TEST(StepTrace, MeasuredBubbleIsComputeOverThePipelinesSpanOnTheSharedClock) {
  // Stage 0 starts its clock at 10.0: forward [10, 11], backward [13, 15]. Stage 1 at 10.5: waits
  // for its input [10.5, 11] (idle), forward [11, 12], backward [12, 13]. Span 10..15.
  StepTrace s0;
  s0.stage = 0;
  s0.rank = 0;
  s0.pp = 2;
  s0.step_start = 10.0;
  s0.actions = {{{K::forward, 0, 0}, 0.0, 1.0}, {{K::send_forward, 0, 0}, 1.0, 1.0}, {{K::recv_backward, 0, 0}, 1.0, 3.0},
                {{K::backward, 0, 0}, 3.0, 5.0}};
  StepTrace s1 = s0;
  s1.stage = 1;
  s1.rank = 1;
  s1.step_start = 10.5;
  s1.actions = {{{K::recv_forward, 0, 0}, 0.0, 0.5}, {{K::forward, 0, 0}, 0.5, 1.5}, {{K::backward, 0, 0}, 1.5, 2.5},
                {{K::send_backward, 0, 0}, 2.5, 2.5}};
  const std::vector<double> bubble = measuredBubble({s1, s0});
  ASSERT_EQ(bubble.size(), 2u);
  EXPECT_DOUBLE_EQ(bubble[0], 1.0 - 3.0 / 5.0);
  EXPECT_DOUBLE_EQ(bubble[1], 1.0 - 2.0 / 5.0);

  EXPECT_NE(errorOf([&] { measuredBubble({s0}); }).find("no trace of stage 1"), std::string::npos);
  StepTrace other_step = s1;
  other_step.step = 4;
  EXPECT_NE(errorOf([&] { measuredBubble({s0, other_step}); }).find("rank 1"), std::string::npos);
  EXPECT_NE(errorOf([&] { measuredBubble({s0, s0}); }).find("stage 0 traced twice"), std::string::npos);
}

}  // namespace
}  // namespace behemoth
