// The schedule view's rows: the plan's simulated step (one row per pp rank, its compute actions
// as boxes, its bubble), a measured step from a trace folder written here with the engine's
// writer, and the widget painting them offscreen.
#include <QComboBox>
#include <QImage>
#include <QLabel>
#include <QTemporaryDir>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "backend/pipeline/step_trace.h"
#include "backend/project/project.h"
#include "parallel/pipeline/planned_timeline.h"
#include "ui/project_analysis.h"
#include "tests/ui/ui_test_support.h"
#include "ui/run_view.h"
#include "ui/schedule_model.h"
#include "ui/schedule_view.h"
#include "ui/trace_panel.h"

namespace behemoth::ui {
namespace {

nlohmann::json pipelineJson(int pp, const std::string& schedule, int virtual_stages) {
  nlohmann::json json = testing::tinyProject();
  json["model"]["n_layer"] = 8;
  json["devices"]["count"] = pp;
  json["parallel"]["pp"] = pp;
  json["parallel"]["pp_schedule"] = schedule;
  json["parallel"]["pp_virtual"] = virtual_stages;
  json["train"]["micro_batch_size"] = 2;  // 16 sequences on dp 1: 8 micro-batches
  return json;
}

Project resolved(const nlohmann::json& json) {
  Project project = projectFromJson(json, ".");
  project.plan.resolve(project.devices.count);
  return project;
}

int countKind(const ScheduleRow& row, PipelineActionKind kind) {
  int count = 0;
  for (const ScheduleBox& box : row.boxes) count += box.kind == kind ? 1 : 0;
  return count;
}

TEST(ScheduleModel, OneFOneBRowsHoldEveryMicroBatchAndTheClosedFormBubble) {
  const ScheduleChart chart = plannedChart(resolved(pipelineJson(4, "1f1b", 1)));
  ASSERT_TRUE(chart.drawable()) << chart.message.toStdString();
  ASSERT_EQ(chart.rows.size(), 4u);
  // Unit costs (forward 1, backward 2): the step takes (m + p - 1) * 3 and each rank is busy 3m,
  // so every rank idles (p - 1) / (m + p - 1) = 3 / 11 of it.
  EXPECT_DOUBLE_EQ(chart.span, 33.0);
  for (std::size_t r = 0; r < chart.rows.size(); ++r) {
    const ScheduleRow& row = chart.rows[r];
    EXPECT_EQ(row.stage, int(r));
    EXPECT_EQ(countKind(row, PipelineActionKind::forward), 8);
    EXPECT_EQ(countKind(row, PipelineActionKind::backward), 8);
    EXPECT_NEAR(row.bubble, 3.0 / 11.0, 1e-12);
    EXPECT_EQ(row.bubble_text, "27.3% idle");
    for (const ScheduleBox& box : row.boxes) EXPECT_LT(box.start, box.end);
  }
  // Rank r starts its first forward after r forwards upstream; rank 3 alternates at once.
  EXPECT_DOUBLE_EQ(chart.rows[3].boxes.front().start, 3.0);
  EXPECT_EQ(chart.rows[3].boxes[1].kind, PipelineActionKind::backward);
  EXPECT_TRUE(chart.title.contains("1F1B · pp 4 · v 1 · 8 micro-batches · simulated bubble 27.3%"))
      << chart.title.toStdString();
}

TEST(ScheduleModel, InterleavedRowsCarryBothChunks) {
  const ScheduleChart chart = plannedChart(resolved(pipelineJson(4, "interleaved", 2)));
  ASSERT_TRUE(chart.drawable()) << chart.message.toStdString();
  ASSERT_EQ(chart.rows.size(), 4u);
  int second_chunk = 0;
  for (const ScheduleBox& box : chart.rows[0].boxes) second_chunk += box.chunk == 1 ? 1 : 0;
  EXPECT_EQ(second_chunk, 16);  // 8 forwards and 8 backwards of chunk 1
  EXPECT_TRUE(chart.title.contains("v 2")) << chart.title.toStdString();
}

TEST(ScheduleModel, NoPipelineAndARefusedShapeGiveAMessage) {
  const ScheduleChart none = plannedChart(resolved(pipelineJson(1, "1f1b", 1)));
  EXPECT_FALSE(none.drawable());
  EXPECT_TRUE(none.message.contains("parallel.pp is 1"));

  Project too_few = resolved(pipelineJson(4, "1f1b", 1));
  too_few.train.micro_batch_size = 8;  // 2 micro-batches for 4 stages
  std::string expected;
  try {
    checkPipelineShape(PipelineSchedule::one_f_one_b, {4, 1, too_few.microBatches()});
  } catch (const std::invalid_argument& error) {
    expected = error.what();
  }
  ASSERT_FALSE(expected.empty());
  const ScheduleChart refused = plannedChart(too_few);
  EXPECT_FALSE(refused.drawable());
  EXPECT_EQ(refused.message.toStdString(), expected);
}

TEST(ScheduleModel, TheTimeModelsCostsGiveTheStepInSeconds) {
  nlohmann::json json = pipelineJson(4, "1f1b", 1);
  json["devices"] = {{"kind", "cuda"}, {"name", "H100"}, {"count", 4}, {"memory_gb", 80}};
  const ProjectAnalysis analysis = analyzeProject(json, ".");
  ASSERT_TRUE(analysis.estimate) << (analysis.error ? analysis.error->message : std::string());
  const TrainingLayout& layout = analysis.estimate->layout;
  const PipelineTimeline expected = plannedTimeline(*analysis.model, layout, analysis.device, analysis.project->plan.order);
  const ScheduleChart chart = plannedChart(*analysis.project, *analysis.model, layout, analysis.device);
  ASSERT_TRUE(chart.drawable()) << chart.message.toStdString();
  EXPECT_EQ(chart.unit, "s");
  ASSERT_EQ(chart.rows.size(), 4u);
  EXPECT_GT(chart.span, 0.0);
  EXPECT_LE(chart.span, expected.makespan * (1 + 1e-12));
  for (std::size_t r = 0; r < 4; ++r) {
    EXPECT_DOUBLE_EQ(chart.rows[r].bubble, expected.bubble_fraction[r]);
    EXPECT_EQ(chart.rows[r].boxes.size(), 16u);
  }
  EXPECT_TRUE(chart.title.contains(durationText(expected.makespan) + " · simulated bubble")) << chart.title.toStdString();
}

// Two stages, two steps; rank 1's clock starts half a second after rank 0's. Step 2 on the shared
// clock (from rank 0's first forward at 10 s):
//   stage 0: forward [0, 1], backward [4, 6]       busy 3 of 6: bubble 1/2
//   stage 1: forward [1, 2], backward [2, 5]       busy 4 of 6: bubble 1/3
// with a receive and a send that are not compute (drawn as idle).
void writeTrace(const std::filesystem::path& out_dir) {
  std::filesystem::create_directories(traceDirectory(out_dir));
  auto action = [](PipelineActionKind kind, double start, double end) {
    return TimedAction{PipelineAction{kind, 0, 0}, start, end};
  };
  for (int rank = 0; rank < 2; ++rank) {
    std::ofstream file(traceFile(out_dir, rank));
    for (int step = 1; step <= 2; ++step) {
      StepTrace trace;
      trace.step = step;
      trace.rank = rank;
      trace.stage = rank;
      trace.pp = 2;
      trace.step_start = (step == 1 ? 0.0 : 10.0) + 0.5 * rank;
      if (rank == 0) {
        trace.actions = {action(PipelineActionKind::forward, 0.0, 1.0), action(PipelineActionKind::send_forward, 1.0, 1.01),
                         action(PipelineActionKind::recv_backward, 1.01, 4.0), action(PipelineActionKind::backward, 4.0, 6.0)};
      } else {
        trace.actions = {action(PipelineActionKind::recv_forward, 0.0, 0.5), action(PipelineActionKind::forward, 0.5, 1.5),
                         action(PipelineActionKind::backward, 1.5, 4.5), action(PipelineActionKind::send_backward, 4.5, 4.51)};
      }
      file << stepTraceToJsonLine(trace) << "\n";
    }
  }
}

TEST(ScheduleModel, AMeasuredStepIsDrawnOnTheSharedClockWithItsBubble) {
  QTemporaryDir dir;
  ASSERT_TRUE(dir.isValid());
  const std::filesystem::path out_dir = dir.path().toStdString();
  writeTrace(out_dir);
  const std::vector<StepTrace> traces = readStepTraces(out_dir);
  EXPECT_EQ(tracedSteps(traces), (std::vector<int>{1, 2}));

  const ScheduleChart chart = measuredChart(traces, 2);
  ASSERT_TRUE(chart.drawable()) << chart.message.toStdString();
  ASSERT_EQ(chart.rows.size(), 2u);
  ASSERT_EQ(chart.rows[0].boxes.size(), 2u);  // communication is not a box
  ASSERT_EQ(chart.rows[1].boxes.size(), 2u);
  EXPECT_NEAR(chart.rows[0].boxes[1].start, 4.0, 1e-9);
  EXPECT_NEAR(chart.rows[0].boxes[1].end, 6.0, 1e-9);
  EXPECT_NEAR(chart.rows[1].boxes[0].start, 1.0, 1e-9);
  EXPECT_NEAR(chart.rows[1].boxes[1].end, 5.0, 1e-9);
  EXPECT_NEAR(chart.span, 6.0, 1e-9);
  EXPECT_NEAR(chart.rows[0].bubble, 0.5, 1e-9);
  EXPECT_NEAR(chart.rows[1].bubble, 1.0 / 3.0, 1e-9);
  EXPECT_EQ(chart.rows[0].bubble_text, "50.0% idle");
  EXPECT_EQ(chart.rows[1].bubble_text, "33.3% idle");
  EXPECT_TRUE(chart.title.contains("step 2")) << chart.title.toStdString();

  EXPECT_FALSE(measuredChart(traces, 7).drawable());
}

TEST(ScheduleViewWidget, PaintsTheBoxesInTheirColours) {
  ScheduleView view;
  view.setCharts({plannedChart(resolved(pipelineJson(4, "1f1b", 1)))});
  view.resize(900, view.sizeHint().height());
  QImage image(view.size(), QImage::Format_ARGB32);
  image.fill(Qt::black);
  view.render(&image);
  // Somewhere on every row the forward colour and the backward colour appear.
  const QRgb forward = ScheduleView::actionColor(PipelineActionKind::forward).rgb();
  const QRgb backward = ScheduleView::actionColor(PipelineActionKind::backward).rgb();
  int forward_pixels = 0;
  int backward_pixels = 0;
  for (int y = 0; y < image.height(); ++y) {
    for (int x = 0; x < image.width(); ++x) {
      const QRgb pixel = image.pixel(x, y);
      forward_pixels += pixel == forward ? 1 : 0;
      backward_pixels += pixel == backward ? 1 : 0;
    }
  }
  EXPECT_GT(forward_pixels, 1000);
  EXPECT_GT(backward_pixels, forward_pixels * 3 / 2);  // backward boxes are twice as wide
}

TEST(ScheduleViewWidget, TheRunViewShowsATracedRunsTimelineAndHidesItOtherwise) {
  QTemporaryDir dir;
  ASSERT_TRUE(dir.isValid());
  RunView run;
  run.resize(1200, 900);
  run.show();
  run.showTrace(dir.path(), {});
  EXPECT_FALSE(run.tracePanel()->isVisible());

  writeTrace(dir.path().toStdString());
  run.showTrace(dir.path(), pipelineJson(2, "1f1b", 1));
  TracePanel* panel = run.tracePanel();
  EXPECT_TRUE(panel->isVisible());
  ASSERT_EQ(panel->stepCombo()->count(), 2);
  EXPECT_EQ(panel->stepCombo()->currentText(), "2");  // the last step
  ASSERT_EQ(panel->view()->charts().size(), 2u);      // measured, then planned
  EXPECT_TRUE(panel->view()->charts()[0].title.startsWith("Measured"));
  EXPECT_TRUE(panel->view()->charts()[1].title.startsWith("Planned"));
  panel->showStep(1);
  EXPECT_TRUE(panel->view()->charts()[0].title.contains("step 1"));

  QImage image(panel->view()->size().expandedTo(QSize(400, 200)), QImage::Format_ARGB32);
  panel->view()->render(&image);
  EXPECT_FALSE(image.isNull());

  // A trace file that is not a trace: the engine's message, naming the file.
  testing::writeText(QString::fromStdString(traceFile(dir.path().toStdString(), 0).string()), "not json\n");
  run.showTrace(dir.path(), {});
  EXPECT_TRUE(panel->isVisible());
  EXPECT_FALSE(panel->message()->isHidden());
  EXPECT_TRUE(panel->message()->text().contains("rank-00000.jsonl")) << panel->message()->text().toStdString();
}

}  // namespace
}  // namespace behemoth::ui
