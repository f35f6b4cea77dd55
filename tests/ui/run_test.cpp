// The Run view: a recorded run's curves hold exactly its points; live events append; an engine
// that crashes mid-run is reported with the step it reached; and the real engine trains the
// project from the Studio, with the run landing in the history.
#include <QAction>
#include <QFileInfo>
#include <QLabel>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <qcustomplot.h>
#include <gtest/gtest.h>

#include "backend/history/history_store.h"
#include "tests/ui/ui_test_support.h"
#include "ui/history_table_model.h"
#include "ui/history_view.h"
#include "ui/main_window.h"
#include "ui/metric_charts.h"
#include "ui/run_series.h"
#include "ui/run_view.h"

namespace behemoth::ui {
namespace {

std::string stepLine(int step, double loss, double tokens_per_s) {
  nlohmann::json event = {{"event", "step"},         {"step", step},         {"loss", loss},
                          {"grad_norm", 1.5},        {"lr", 0.001},          {"step_time_s", 0.02},
                          {"tokens_per_s", tokens_per_s}, {"model_state_bytes", 3000000}, {"peak_rss_bytes", 250000000},
                          {"comm_bytes", 1200000}};
  return event.dump() + "\n";
}

TEST(RunView, RecordedRunShowsEveryPoint) {
  QTemporaryDir dir;
  const QString path = dir.filePath("metrics.jsonl");
  std::string text;
  for (int step = 10; step <= 50; step += 10) text += stepLine(step, 5.0 - step / 100.0, 1000.0 + step);
  text += nlohmann::json({{"event", "eval"}, {"step", 30}, {"eval_loss", 4.9}}).dump() + "\n";
  text += nlohmann::json({{"event", "eval"}, {"step", 50}, {"eval_loss", 4.7}}).dump() + "\n";
  testing::writeText(path, text);

  RunView view;
  view.resize(1200, 800);
  view.show();
  view.showRecorded(readMetricsFile(path, 1e6), "recorded");
  MetricCharts* charts = view.charts();
  ASSERT_EQ(charts->graphCount(MetricCharts::loss), 2);  // train + eval
  EXPECT_EQ(charts->pointCount(MetricCharts::loss, 0), 5);
  EXPECT_EQ(charts->pointCount(MetricCharts::loss, 1), 2);
  EXPECT_EQ(charts->pointCount(MetricCharts::throughput, 0), 5);
  ASSERT_EQ(charts->graphCount(MetricCharts::throughput), 1);
  EXPECT_EQ(charts->pointCount(MetricCharts::memory, 0), 5);
  const auto* loss = charts->plot(MetricCharts::loss)->graph(0)->data().data();
  EXPECT_DOUBLE_EQ(loss->at(0)->key, 10);
  EXPECT_DOUBLE_EQ(loss->at(0)->value, 4.9);
  EXPECT_DOUBLE_EQ(loss->at(4)->value, 4.5);
  // TFLOP/s: the right axis reads the same curve at 1e6 FLOPs per token.
  const QCPRange tokens = charts->plot(MetricCharts::throughput)->yAxis->range();
  const QCPRange tflops = charts->tflopsRange();
  EXPECT_DOUBLE_EQ(tflops.upper, tokens.upper * 1e6 / 1e12);
  EXPECT_DOUBLE_EQ(tflops.lower, tokens.lower * 1e6 / 1e12);
  EXPECT_DOUBLE_EQ(view.charts()->runs().front().tflops.at(4), 1050.0 * 1e6 / 1e12);
  const auto* memory = charts->plot(MetricCharts::memory)->graph(0)->data().data();
  EXPECT_DOUBLE_EQ(memory->at(0)->value, 0.25);  // peak RSS, GB
}

TEST(RunView, MemoryChartShowsTheHighestAndLowestRank) {
  QTemporaryDir dir;
  const QString path = dir.filePath("metrics.jsonl");
  std::string text;
  for (int step = 1; step <= 3; ++step) {
    nlohmann::json event = nlohmann::json::parse(stepLine(step, 4.0, 100.0));
    // Four ranks; rank 2 holds the most, rank 0 the least.
    event["rank_peak_rss_bytes"] = {200000000, 230000000, 250000000, 210000000};
    text += event.dump() + "\n";
  }
  testing::writeText(path, text);
  RunView view;
  view.resize(1200, 800);
  view.show();
  view.showRecorded(readMetricsFile(path), "ranks");
  MetricCharts* charts = view.charts();
  ASSERT_EQ(charts->graphCount(MetricCharts::memory), 3);  // highest rank, lowest rank, model state
  const auto* highest = charts->plot(MetricCharts::memory)->graph(0)->data().data();
  const auto* lowest = charts->plot(MetricCharts::memory)->graph(1)->data().data();
  ASSERT_EQ(lowest->size(), 3);
  EXPECT_DOUBLE_EQ(highest->at(2)->value, 0.25);
  EXPECT_DOUBLE_EQ(lowest->at(2)->value, 0.20);
}

TEST(RunView, BadMetricsLineNamesTheLine) {
  QTemporaryDir dir;
  const QString path = dir.filePath("metrics.jsonl");
  testing::writeText(path, stepLine(10, 5, 100) + "{not json\n");
  try {
    readMetricsFile(path);
    FAIL() << "a bad line must be rejected";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("line 2"), std::string::npos) << error.what();
  }
}

TEST(RunView, EngineCrashIsReportedWithTheStepItReached) {
  QTemporaryDir dir;
  const QString engine = dir.filePath("crashing-engine.sh");
  testing::writeText(engine, "#!/bin/sh\n"
                             "echo '{\"event\":\"run_started\",\"name\":\"crash\",\"world_size\":2,\"total_steps\":100}'\n" +
                                 std::string("echo '") + stepLine(10, 5.5, 900).substr(0, stepLine(10, 5.5, 900).size() - 1) + "'\n" +
                                 "echo 'worker 1: something went badly wrong' >&2\n"
                                 "kill -SEGV $$\n");
  QFile::setPermissions(engine, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
  const QString project = dir.filePath("p.json");
  testing::writeText(project, testing::tinyProject().dump());

  RunView view;
  view.setEngine(engine);
  QSignalSpy ended(view.controller(), &RunController::ended);
  ASSERT_TRUE(view.startRun(project, 2, 0));
  ASSERT_TRUE(ended.wait(10000));
  const auto ending = ended.at(0).at(0).value<RunController::Ending>();
  EXPECT_EQ(ending, RunController::Ending::crashed);
  const QString message = ended.at(0).at(1).toString();
  EXPECT_TRUE(message.contains("crashed")) << message.toStdString();
  EXPECT_TRUE(message.contains("after step 10")) << message.toStdString();
  EXPECT_TRUE(message.contains("something went badly wrong")) << message.toStdString();
  EXPECT_FALSE(view.banner()->isHidden());
  EXPECT_TRUE(view.banner()->property("error").toBool());
  EXPECT_EQ(view.charts()->pointCount(MetricCharts::loss, 0), 1);  // what arrived before the crash stays
  EXPECT_TRUE(view.runButton()->isEnabled());
}

TEST(RunView, MissingEngineIsAClearMessage) {
  RunView view;
  view.setEngine("/nonexistent/behemoth");
  QSignalSpy ended(view.controller(), &RunController::ended);
  EXPECT_FALSE(view.startRun("/tmp/p.json", 1, 0));
  ASSERT_GE(ended.count(), 1);
  EXPECT_TRUE(ended.at(0).at(1).toString().contains("Could not start the engine"));
}

TEST(RunView, TrainsTheProjectWithTheEngineAndRecordsIt) {
  const QString engine = testing::engineBinary();
  ASSERT_TRUE(QFileInfo(engine).isExecutable()) << engine.toStdString() << " (build the behemoth target)";
  QTemporaryDir dir;
  nlohmann::json project = testing::tinyProject();
  project["train"]["steps"] = 20;
  project["train"]["log_every"] = 5;
  project["train"]["out_dir"] = dir.filePath("out").toStdString();
  const QString path = dir.filePath("tiny.json");
  testing::writeText(path, project.dump(2));
  const QString history = dir.filePath("history.sqlite");

  RunView view;
  view.setEngine(engine);
  view.setHistoryPath(history);
  QSignalSpy ended(view.controller(), &RunController::ended);
  QSignalSpy events(view.controller(), &RunController::eventReceived);
  ASSERT_TRUE(view.startRun(path, 2, 0));
  ASSERT_TRUE(ended.wait(120000));
  EXPECT_EQ(ended.at(0).at(0).value<RunController::Ending>(), RunController::Ending::completed) << ended.at(0).at(1).toString().toStdString();
  // Every step the engine logged (its own metrics.jsonl) arrived live and was charted.
  const RunSeries written = readMetricsFile(dir.filePath("out/metrics.jsonl"));
  ASSERT_GE(written.steps.size(), 4);
  EXPECT_EQ(written.steps.last(), 20);
  EXPECT_EQ(view.charts()->pointCount(MetricCharts::loss, 0), written.steps.size());
  EXPECT_EQ(view.charts()->runs().front().loss, written.loss);
  const std::vector<RunRecord> runs = HistoryStore(history.toStdString()).listRuns();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].outcome, RunOutcome::completed);
  EXPECT_EQ(runs[0].logged_steps, written.steps.size());
}

}  // namespace
}  // namespace behemoth::ui

namespace behemoth::ui {
namespace {

// The whole path a user takes: F5 in the window saves nothing new (the project is saved), starts
// the engine beside the Studio, charts the run live, and the finished run appears in the history.
TEST(RunFromWindow, LaunchTrainsAndTheRunAppearsInTheHistory) {
  ASSERT_TRUE(QFileInfo(testing::engineBinary()).isExecutable());
  QTemporaryDir dir;
  nlohmann::json project = testing::tinyProject();
  project["train"]["steps"] = 10;
  project["train"]["out_dir"] = dir.filePath("out").toStdString();
  const QString path = dir.filePath("tiny.json");
  testing::writeText(path, project.dump(2));
  MainWindow window(dir.filePath("history.sqlite"), false);
  window.runView()->setEngine(testing::engineBinary());
  window.show();
  ASSERT_TRUE(window.openProject(path));
  testing::waitForAnalysis(*window.estimates());
  QSignalSpy ended(window.runView()->controller(), &RunController::ended);
  window.findChild<QAction*>(QStringLiteral("runAction"))->trigger();
  EXPECT_EQ(window.currentPage(), MainWindow::Page::run);
  ASSERT_TRUE(ended.wait(120000));
  EXPECT_EQ(ended.at(0).at(0).value<RunController::Ending>(), RunController::Ending::completed);
  EXPECT_GT(window.runView()->charts()->pointCount(MetricCharts::loss, 0), 0);
  ASSERT_TRUE(waitUntil([&] { return window.historyView()->model()->rowCount() == 1 && !window.historyService()->busy(); }, 10000));
  EXPECT_EQ(window.historyView()->model()->run(0).outcome, RunOutcome::completed);
}

}  // namespace
}  // namespace behemoth::ui
