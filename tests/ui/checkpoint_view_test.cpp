// Checkpoints in the Studio: the history lists the selected run's checkpoints (the latest marked
// and chosen), "Resume" starts the engine with the current project and `--resume STEP_DIR`, and
// checkpoint saves are dashed markers on the loss and throughput charts (live, from a metrics
// file, from the history), which a restart rewinds with the curves.
#include <QFileInfo>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <gtest/gtest.h>
#include <qcustomplot.h>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/history/history_store.h"
#include "backend/metrics/events.h"
#include "backend/project/project.h"
#include "tests/support/checkpoint_fixture.h"
#include "tests/ui/ui_test_support.h"
#include "ui/checkpoint_panel.h"
#include "ui/history_table_model.h"
#include "ui/history_view.h"
#include "ui/main_window.h"
#include "ui/metric_charts.h"
#include "ui/model_zoo.h"
#include "ui/run_view.h"

namespace behemoth::ui {
namespace {

std::int64_t recordRun(HistoryStore& store, const std::string& name, const std::string& out_dir) {
  nlohmann::json project = testing::tinyProject();
  project["name"] = name;
  project["train"]["out_dir"] = out_dir;
  RunStart start;
  start.name = name;
  start.project = project;
  start.plan = planToJson(projectFromJson(project).plan);
  start.world_size = 2;
  start.out_dir = out_dir;
  const std::int64_t id = store.beginRun(start);
  for (int s = 1; s <= 4; ++s) {
    StepMetrics m;
    m.step = s * 50;
    m.loss = 3.0 - s * 0.1;
    m.tokens_per_s = 1000;
    store.appendStep(id, m);
  }
  store.finishRun(id, RunOutcome::completed, "", {});
  return id;
}

class CheckpointHistory : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.filePath("history.sqlite");
    out_ = dir_.filePath("runs/saved");
    writeFixtureRun(out_.toStdString(), {100, 200});
    HistoryStore store(db_.toStdString());
    saved_ = recordRun(store, "with-checkpoints", out_.toStdString());
    bare_ = recordRun(store, "without", dir_.filePath("runs/bare").toStdString());
    window_ = std::make_unique<MainWindow>(db_, false);
    window_->resize(1400, 900);
    window_->show();
    ASSERT_TRUE(waitUntil([&] { return window_->historyView()->loaded() && !window_->historyService()->busy(); }, 10000));
  }
  CheckpointPanel* panel() const { return window_->historyView()->checkpoints(); }
  QString stepDir(std::int64_t step) const {
    return QString::fromStdString((checkpointsDir(out_.toStdString()) / stepDirName(step)).string());
  }

  QTemporaryDir dir_;
  QString db_, out_;
  std::int64_t saved_ = 0, bare_ = 0;
  std::unique_ptr<MainWindow> window_;
};

TEST_F(CheckpointHistory, TheSelectedRunsCheckpointsAreListedWithTheLatestMarked) {
  window_->historyView()->selectIds({saved_});
  QTableWidget* table = panel()->table();
  ASSERT_EQ(table->rowCount(), 2);
  const std::vector<CheckpointInfo> expected = listCheckpoints(out_.toStdString());
  ASSERT_EQ(expected.size(), 2u);
  for (int row = 0; row < 2; ++row) {
    EXPECT_EQ(table->item(row, CheckpointPanel::step)->text(), QString::number(expected[row].step));
    EXPECT_EQ(table->item(row, CheckpointPanel::layout)->text(), "tp 2");
    EXPECT_EQ(table->item(row, CheckpointPanel::size)->text(), humanBytes(double(expected[row].bytes)));
    EXPECT_FALSE(table->item(row, CheckpointPanel::saved)->text().isEmpty());
  }
  EXPECT_EQ(table->item(0, CheckpointPanel::latest)->text(), "");
  EXPECT_EQ(table->item(1, CheckpointPanel::latest)->text(), "latest");
  // The latest is chosen, ready to resume from.
  ASSERT_TRUE(panel()->selected().has_value());
  EXPECT_EQ(panel()->selected()->step, 200);
  EXPECT_TRUE(panel()->resumeButton()->isEnabled());
  EXPECT_EQ(panel()->resumeButton()->text(), "Resume from step 200");
  EXPECT_TRUE(panel()->hint()->text().contains("2 checkpoints, " + humanBytes(double(expected[0].bytes + expected[1].bytes))))
      << panel()->hint()->text().toStdString();
  // The preview of the run's loss marks them too.
  QCustomPlot* preview = window_->historyView()->preview();
  EXPECT_TRUE(waitUntil([&] { return !window_->historyService()->busy() && preview->itemCount() == 2; }, 10000))
      << preview->itemCount();

  window_->historyView()->selectIds({bare_});
  EXPECT_TRUE(waitUntil([&] { return !window_->historyService()->busy() && preview->graphCount() == 1 && preview->itemCount() == 0; }, 10000))
      << preview->itemCount();
  EXPECT_EQ(panel()->table()->rowCount(), 0);
  EXPECT_FALSE(panel()->resumeButton()->isEnabled());
  EXPECT_TRUE(panel()->hint()->text().contains("not on this machine")) << panel()->hint()->text().toStdString();

  window_->historyView()->selectIds({saved_, bare_});
  EXPECT_EQ(panel()->table()->rowCount(), 0);
  EXPECT_TRUE(panel()->hint()->text().contains("Select one run")) << panel()->hint()->text().toStdString();
}

TEST_F(CheckpointHistory, ResumeRunsTheCurrentProjectFromTheChosenCheckpoint) {
  // An engine that records what it was asked to do.
  const QString engine = dir_.filePath("recording-engine.sh");
  const QString args_file = dir_.filePath("args.txt");
  testing::writeText(engine, "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > '" + args_file.toStdString() + "'\n");
  QFile::setPermissions(engine, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
  window_->runView()->setEngine(engine);

  // The current project differs from the one that saved the checkpoint (another layout).
  nlohmann::json project = testing::tinyProject();
  project["parallel"]["zero"] = 1;
  const QString project_path = dir_.filePath("current.json");
  testing::writeText(project_path, project.dump(2));
  ASSERT_TRUE(window_->openProject(project_path));
  testing::waitForAnalysis(*window_->estimates());

  window_->historyView()->selectIds({saved_});
  panel()->selectStep(100);
  EXPECT_EQ(panel()->resumeButton()->text(), "Resume from step 100");
  QSignalSpy ended(window_->runView()->controller(), &RunController::ended);
  panel()->resumeButton()->click();
  EXPECT_EQ(window_->currentPage(), MainWindow::Page::run);
  const QStringList expected = {"run",       window_->document()->path(), "--events", "--nproc", "2", "--history",
                                db_,         "--resume",                   stepDir(100)};
  EXPECT_EQ(window_->runView()->controller()->arguments(), expected)
      << window_->runView()->controller()->arguments().join(' ').toStdString();
  ASSERT_TRUE(ended.wait(10000));
  QFile written(args_file);
  ASSERT_TRUE(written.open(QIODevice::ReadOnly));
  EXPECT_EQ(QString::fromUtf8(written.readAll()).split('\n', Qt::SkipEmptyParts), expected);
}

TEST_F(CheckpointHistory, AnOpenedRunMarksTheCheckpointsOnDisk) {
  window_->openHistoryRun(saved_);
  ASSERT_TRUE(waitUntil([&] { return window_->currentPage() == MainWindow::Page::run; }, 10000));
  MetricCharts* charts = window_->runView()->charts();
  EXPECT_EQ(charts->checkpointMarkers(MetricCharts::loss), (std::vector<double>{100, 200}));
  EXPECT_EQ(charts->checkpointMarkers(MetricCharts::throughput), (std::vector<double>{100, 200}));
  EXPECT_TRUE(charts->checkpointMarkers(MetricCharts::step_time).empty());
}

nlohmann::json stepEvent(int step) {
  return {{"event", "step"},    {"step", step},          {"loss", 4.0 - step * 0.1}, {"grad_norm", 1.0},
          {"lr", 1e-3},         {"step_time_s", 0.1},    {"tokens_per_s", 1000},     {"model_state_bytes", 1},
          {"peak_rss_bytes", 1}, {"comm_bytes", 1}};
}

nlohmann::json savedEvent(int step) {
  CheckpointSavedInfo info;
  info.step = step;
  info.path = "/tmp/out/checkpoints/" + stepDirName(step);
  info.reason = "every";
  return checkpointSavedEvent(info);
}

TEST(CheckpointMarkers, ALiveSaveIsAMarkerAtItsStepAndARestartRewindsThem) {
  RunView view;
  view.resize(1200, 800);
  view.show();
  RunController* controller = view.controller();
  MetricCharts* charts = view.charts();
  charts->beginLive("live", 0);
  for (int step = 1; step <= 4; ++step) emit controller->eventReceived(stepEvent(step));
  EXPECT_TRUE(charts->checkpointMarkers(MetricCharts::loss).empty());
  emit controller->eventReceived(savedEvent(2));
  EXPECT_EQ(charts->checkpointMarkers(MetricCharts::loss), (std::vector<double>{2}));
  EXPECT_EQ(charts->checkpointMarkers(MetricCharts::throughput), (std::vector<double>{2}));
  // One legend entry says what the dashed lines are.
  QCustomPlot* plot = charts->plot(MetricCharts::loss);
  EXPECT_EQ(plot->graph(plot->graphCount() - 1)->name(), "checkpoint saved");
  EXPECT_TRUE(plot->legend->visible());
  for (int step = 5; step <= 6; ++step) emit controller->eventReceived(stepEvent(step));
  emit controller->eventReceived(savedEvent(6));
  EXPECT_EQ(charts->checkpointMarkers(MetricCharts::loss), (std::vector<double>{2, 6}));
  EXPECT_EQ(charts->pointCount(MetricCharts::loss, 0), 6);

  // A worker died after step 6 and the launcher restarted from the checkpoint of step 2: steps 3
  // onwards run again, so their points (and the later marker) go until they arrive anew.
  emit controller->eventReceived(runRestartedEvent(1, 2, "rank 1 killed by SIGKILL", "/tmp/out/checkpoints/step-0000002", 2));
  EXPECT_EQ(charts->pointCount(MetricCharts::loss, 0), 2);
  EXPECT_EQ(charts->checkpointMarkers(MetricCharts::loss), (std::vector<double>{2}));
  emit controller->eventReceived(stepEvent(3));
  EXPECT_EQ(charts->pointCount(MetricCharts::loss, 0), 3);
  EXPECT_EQ(charts->runs().front().steps, (QVector<double>{1, 2, 3}));
}

TEST(CheckpointMarkers, AMetricsFileWithSavesShowsThem) {
  QTemporaryDir dir;
  const QString path = dir.filePath("metrics.jsonl");
  std::string lines;
  for (int step = 1; step <= 5; ++step) {
    lines += stepEvent(step).dump() + "\n";
    if (step % 2 == 0) lines += savedEvent(step).dump() + "\n";
  }
  testing::writeText(path, lines);
  RunView view;
  view.showRecorded(readMetricsFile(path), "recorded");
  EXPECT_EQ(view.charts()->checkpointMarkers(MetricCharts::loss), (std::vector<double>{2, 4}));
  EXPECT_EQ(view.charts()->pointCount(MetricCharts::loss, 0), 5);
}

}  // namespace
}  // namespace behemoth::ui
