// History and Compare in the window: runs listed, filtered and sorted; two runs compared with
// both curves overlaid and the differing plan field listed; a corrupt database is a message.
#include <QLabel>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <qcustomplot.h>
#include <gtest/gtest.h>

#include "backend/history/history_store.h"
#include "backend/project/project.h"
#include "tests/ui/ui_test_support.h"
#include "ui/compare_view.h"
#include "ui/history_table_model.h"
#include "ui/history_view.h"
#include "ui/main_window.h"
#include "ui/metric_charts.h"
#include "ui/run_comparison.h"

namespace behemoth::ui {
namespace {

std::int64_t recordRun(HistoryStore& store, const std::string& name, int zero, double final_loss, int steps) {
  nlohmann::json project = testing::tinyProject();
  project["name"] = name;
  project["parallel"]["zero"] = zero;
  RunStart start;
  start.name = name;
  start.project = project;
  start.plan = planToJson(projectFromJson(project).plan);
  start.plan["dp"] = 2;
  start.world_size = 2;
  start.parameter_count = 1000;
  const std::int64_t id = store.beginRun(start);
  for (int s = 1; s <= steps; ++s) {
    StepMetrics m;
    m.step = s * 10;
    m.loss = final_loss + (steps - s) * 0.1;
    m.tokens_per_s = 1000 + s;
    m.step_time_s = 0.01;
    store.appendStep(id, m);
  }
  RunSummary summary;
  summary.final_loss = final_loss;
  store.finishRun(id, RunOutcome::completed, "", summary);
  return id;
}

class HistoryWindow : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.filePath("history.sqlite");
    HistoryStore store(db_.toStdString());
    first_ = recordRun(store, "baseline", 0, 2.5, 6);
    second_ = recordRun(store, "sharded", 1, 2.4, 4);
    window_ = std::make_unique<MainWindow>(db_, false);
    window_->show();
    ASSERT_TRUE(waitUntil([&] { return window_->historyView()->loaded() && !window_->historyService()->busy(); }, 10000));
  }
  QTemporaryDir dir_;
  QString db_;
  std::int64_t first_ = 0, second_ = 0;
  std::unique_ptr<MainWindow> window_;
};

TEST_F(HistoryWindow, ListsFiltersAndSortsRuns) {
  HistoryView* view = window_->historyView();
  ASSERT_EQ(view->model()->rowCount(), 2);
  EXPECT_TRUE(view->banner()->isHidden());
  view->setFilter("SHARD");
  ASSERT_EQ(view->proxy()->rowCount(), 1);
  EXPECT_EQ(view->proxy()->index(0, HistoryTableModel::name).data().toString(), "sharded");
  view->setFilter("");
  view->table()->sortByColumn(HistoryTableModel::final_loss, Qt::AscendingOrder);
  EXPECT_EQ(view->proxy()->index(0, HistoryTableModel::name).data().toString(), "sharded");
  view->table()->sortByColumn(HistoryTableModel::steps, Qt::AscendingOrder);
  EXPECT_EQ(view->proxy()->index(0, HistoryTableModel::steps).data().toString(), "4");
}

TEST_F(HistoryWindow, ComparingTwoRunsOverlaysBothAndListsThePlanDifference) {
  window_->compareRuns({first_, second_});
  ASSERT_TRUE(waitUntil([&] { return window_->currentPage() == MainWindow::Page::compare; }, 10000));
  MetricCharts* charts = window_->compareView()->charts();
  int train_graphs = 0;
  for (int g = 0; g < charts->graphCount(MetricCharts::loss); ++g) {
    if (!charts->plot(MetricCharts::loss)->graph(g)->name().endsWith("eval")) {  // a train line
      ++train_graphs;
      EXPECT_EQ(charts->pointCount(MetricCharts::loss, g), g == 0 ? 6 : 4);
    }
  }
  EXPECT_EQ(train_graphs, 2);

  QTableWidget* table = window_->compareView()->diffTable();
  int zero_row = -1;
  for (int row = 0; row < table->rowCount(); ++row) {
    if (table->item(row, 0)->text() == "parallel.zero") zero_row = row;
    // Only differing settings are listed: the model is the same.
    EXPECT_NE(table->item(row, 0)->text(), "model.d_model");
  }
  ASSERT_GE(zero_row, 0);
  EXPECT_EQ(table->item(zero_row, 1)->text(), "0");
  EXPECT_EQ(table->item(zero_row, 2)->text(), "1");
}

TEST_F(HistoryWindow, OpeningARunShowsItsCurves) {
  window_->openHistoryRun(first_);
  ASSERT_TRUE(waitUntil([&] { return window_->currentPage() == MainWindow::Page::run; }, 10000));
}

TEST_F(HistoryWindow, DeleteAndTagReachTheDatabase) {
  window_->historyService()->setTags(first_, {"keep", "baseline"});
  window_->historyService()->remove(second_);
  ASSERT_TRUE(waitUntil([&] { return !window_->historyService()->busy() && window_->historyView()->model()->rowCount() == 1; }, 10000));
  const std::vector<RunRecord> runs = HistoryStore(db_.toStdString()).listRuns();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].id, first_);
  EXPECT_EQ(runs[0].tags, (std::vector<std::string>{"keep", "baseline"}));
}

TEST(HistoryErrors, CorruptDatabaseIsAMessageInTheWindow) {
  QTemporaryDir dir;
  const QString db = dir.filePath("corrupt.sqlite");
  testing::writeText(db, std::string(4096, 'x'));
  MainWindow window(db, false);
  window.show();
  ASSERT_TRUE(waitUntil([&] { return window.historyView()->loaded(); }, 10000));
  QLabel* banner = window.historyView()->banner();
  EXPECT_FALSE(banner->isHidden());
  EXPECT_TRUE(banner->text().contains(db)) << banner->text().toStdString();
  EXPECT_TRUE(banner->text().contains("not a database")) << banner->text().toStdString();
  EXPECT_EQ(window.historyView()->model()->rowCount(), 0);
  // The file is left as it was.
  QFile file(db);
  ASSERT_TRUE(file.open(QIODevice::ReadOnly));
  EXPECT_EQ(file.readAll(), QByteArray(4096, 'x'));
}

TEST(HistoryErrors, LockedDatabaseIsAMessageNotAFrozenWindow) {
  QTemporaryDir dir;
  const QString db = dir.filePath("locked.sqlite");
  { HistoryStore create(db.toStdString()); }
  // Another process holding an exclusive lock: a second connection with its own transaction.
  sqlite::Database holder(db.toStdString(), 0);
  holder.exec("PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; CREATE TABLE lock_probe(x);");
  MainWindow window(db, false);
  window.historyService()->setBusyTimeoutMs(200);
  window.show();
  window.historyView()->refresh();
  ASSERT_TRUE(waitUntil([&] { return window.historyView()->loaded() && !window.historyService()->busy(); }, 10000));
  QLabel* banner = window.historyView()->banner();
  EXPECT_FALSE(banner->isHidden());
  EXPECT_TRUE(banner->text().contains("locked") || banner->text().contains("busy")) << banner->text().toStdString();
  holder.exec("ROLLBACK");
}

TEST(RunComparison, ListsOnlyDifferingSettingsThenResults) {
  RunDetails a, b;
  a.run.project = {{"model", {{"n_layer", 2}}}, {"train", {{"out_dir", "x"}}}};
  b.run.project = {{"model", {{"n_layer", 4}}}, {"train", {{"out_dir", "y"}}}};
  a.run.plan = {{"dp", 2}, {"zero", 0}};
  b.run.plan = {{"dp", 2}, {"zero", 2}};
  a.run.summary.final_loss = 2.0;
  const std::vector<ComparisonRow> rows = compareRuns({a, b});
  ASSERT_GE(rows.size(), 2u);
  EXPECT_EQ(rows[0].field, "model.n_layer");
  EXPECT_EQ(rows[0].values, (QStringList{"2", "4"}));
  EXPECT_EQ(rows[1].field, "parallel.zero");
  EXPECT_EQ(rows[1].values, (QStringList{"0", "2"}));
  EXPECT_FALSE(rows[1].is_result);
  for (const ComparisonRow& row : rows) EXPECT_NE(row.field, "train.out_dir");
  const auto loss = std::find_if(rows.begin(), rows.end(), [](const ComparisonRow& r) { return r.field == "final loss"; });
  ASSERT_NE(loss, rows.end());
  EXPECT_EQ(loss->values, (QStringList{"2.0000", "–"}));
}

}  // namespace
}  // namespace behemoth::ui
