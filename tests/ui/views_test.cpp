// The design views, driven through their widgets in the real window: an edit changes the memory
// estimate, an invalid axis shows the engine's message at the field, a bad project file is
// reported without losing the open project.
#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QPushButton>
#include <QListWidget>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTest>
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "backend/project/project.h"
#include "parallel/plan.h"
#include "tests/ui/ui_test_support.h"
#include "ui/main_window.h"
#include "ui/memory_panel.h"
#include "ui/mesh_designer_view.h"
#include "ui/mesh_grid_widget.h"
#include "ui/model_picker_view.h"
#include "ui/plan_editor_view.h"

namespace behemoth::ui {
namespace {

class StudioWindow : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.isValid());
    project_path_ = dir_.filePath("tiny.json");
    testing::writeText(project_path_, testing::tinyProject().dump(2));
    window_ = std::make_unique<MainWindow>(dir_.filePath("history.sqlite"), false);
    window_->resize(1400, 900);
    window_->show();
    ASSERT_TRUE(window_->openProject(project_path_));
    analysis_ = testing::waitForAnalysis(*window_->estimates());
    ASSERT_TRUE(analysis_);
  }
  AnalysisPtr nextAnalysis() {
    analysis_ = testing::waitForAnalysis(*window_->estimates(), analysis_);
    return analysis_;
  }

  QTemporaryDir dir_;
  QString project_path_;
  std::unique_ptr<MainWindow> window_;
  AnalysisPtr analysis_;
};

TEST_F(StudioWindow, ChoosingZeroOneShrinksTheOptimizerBars) {
  const std::int64_t p = projectFromJson(testing::tinyProject()).model.parameterCount();
  MemoryPanel* memory = window_->memoryPanel();
  const std::vector<double> before = memory->categoryValues(2);
  ASSERT_EQ(before.size(), 2u) << memory->summaryText().toStdString()
                               << (analysis_->error ? analysis_->error->message : std::string("no error"));
  EXPECT_DOUBLE_EQ(before[0], 8.0 * p / 1e9);

  window_->showPage(MainWindow::Page::plan);
  QComboBox* zero = window_->planEditor()->zeroCombo();
  zero->setFocus();
  QTest::keyClick(zero, Qt::Key_Down);  // stage 0 -> 1, as a user does
  EXPECT_EQ(window_->document()->value("/parallel/zero"), 1);
  ASSERT_TRUE(nextAnalysis());
  const std::vector<double> after = memory->categoryValues(2);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_DOUBLE_EQ(after[0], 8.0 * double((p + 1) / 2) / 1e9);
  EXPECT_DOUBLE_EQ(after[1], after[0]);

  window_->document()->undoStack()->undo();
  ASSERT_TRUE(nextAnalysis());
  EXPECT_DOUBLE_EQ(memory->categoryValues(2)[0], 8.0 * p / 1e9);
}

TEST_F(StudioWindow, MoreDevicesMeanMoreBarsAndTiles) {
  QSpinBox* count = window_->meshDesigner()->deviceCountSpin();
  count->setValue(8);
  ASSERT_TRUE(nextAnalysis());
  EXPECT_EQ(window_->memoryPanel()->categoryValues(0).size(), 8u);
  EXPECT_EQ(analysis_->project->plan.dp, 8);
  // Colour groups along dp: all eight ranks form one dp group.
  MeshGridWidget* grid = window_->meshDesigner()->grid();
  for (int rank = 0; rank < 8; ++rank) EXPECT_EQ(grid->groupOf(rank), 0);
}

TEST_F(StudioWindow, InvalidTensorParallelSizeShowsTheEngineMessageAtTheField) {
  window_->meshDesigner()->deviceCountSpin()->setValue(4);
  ASSERT_TRUE(nextAnalysis());
  QSpinBox* tp = window_->meshDesigner()->axisSpin(Axis::tp);
  tp->setValue(3);
  ASSERT_TRUE(nextAnalysis());

  Plan plan;
  plan.tp = 3;
  std::string expected;
  try {
    plan.resolve(4);
  } catch (const std::invalid_argument& error) {
    expected = error.what();
  }
  ASSERT_FALSE(expected.empty());
  EXPECT_TRUE(tp->property("invalid").toBool());
  EXPECT_EQ(tp->toolTip().toStdString(), expected);
  QLabel* error = window_->meshDesigner()->errorLabel();
  EXPECT_FALSE(error->isHidden());
  EXPECT_EQ(error->text().toStdString(), expected);
  // The other axes are not blamed, and fixing tp clears the mark.
  EXPECT_FALSE(window_->meshDesigner()->axisSpin(Axis::pp)->property("invalid").toBool());
  tp->setValue(2);
  ASSERT_TRUE(nextAnalysis());
  EXPECT_FALSE(tp->property("invalid").toBool());
}

TEST_F(StudioWindow, ReorderingTheAxesRewritesTheOrderAndTheGroups) {
  window_->meshDesigner()->deviceCountSpin()->setValue(4);
  ASSERT_TRUE(nextAnalysis());
  window_->document()->setValue("/train/micro_batch_size", 4);  // 2 micro-batches: enough for 2 stages
  ASSERT_TRUE(nextAnalysis());
  window_->document()->setValue("/parallel/pp", 2);
  ASSERT_TRUE(nextAnalysis());
  ASSERT_FALSE(analysis_->error) << analysis_->error->message;
  // Default nesting pp outermost: dp groups are {0,1}, {2,3}.
  MeshGridWidget* grid = window_->meshDesigner()->grid();
  EXPECT_EQ(grid->groupOf(0), grid->groupOf(1));
  EXPECT_NE(grid->groupOf(0), grid->groupOf(2));
  // Drag dp to the top (outermost): dp groups become {0,2}, {1,3}.
  QListWidget* order = window_->meshDesigner()->orderList();
  int dp_row = -1;
  for (int row = 0; row < order->count(); ++row) {
    if (order->item(row)->data(Qt::UserRole).toInt() == static_cast<int>(Axis::dp)) dp_row = row;
  }
  ASSERT_GE(dp_row, 0);
  order->model()->moveRow(QModelIndex(), dp_row, QModelIndex(), 0);
  const nlohmann::json written = window_->document()->value("/parallel/order");
  ASSERT_TRUE(written.is_array());
  EXPECT_EQ(written.at(0), "dp");
  ASSERT_TRUE(nextAnalysis());
  EXPECT_EQ(grid->groupOf(0), grid->groupOf(2));
  EXPECT_NE(grid->groupOf(0), grid->groupOf(1));
}

TEST_F(StudioWindow, APlanThatDoesNotFitGetsThePlannersFixAndApplyingItFits) {
  // Capacity 1 MB below today's peak: the devices are over, a smaller micro-batch or ZeRO fits.
  const double peak = double(analysis_->estimate->memory.peakDeviceBytes());
  window_->document()->setValue("/devices/memory_gb", (peak - 1e6) / 1e9);
  ASSERT_TRUE(nextAnalysis());
  EXPECT_EQ(analysis_->devicesOverCapacity(), 2);
  QLabel* suggestion = window_->memoryPanel()->suggestionLabel();
  ASSERT_TRUE(waitUntil([&] { return suggestion->text().contains("Would fit"); }, 20000)) << suggestion->text().toStdString();
  emit window_->memoryPanel()->applySuggestionRequested();
  ASSERT_TRUE(nextAnalysis());
  EXPECT_EQ(analysis_->devicesOverCapacity(), 0);
  EXPECT_TRUE(suggestion->isHidden());
  window_->document()->undoStack()->undo();  // the applied plan is one undo step
  ASSERT_TRUE(nextAnalysis());
  EXPECT_EQ(analysis_->devicesOverCapacity(), 2);
}

TEST_F(StudioWindow, PresetShowsItsParameterCount) {
  window_->modelPicker()->choosePreset(1);  // GPT-2 Small
  ASSERT_TRUE(nextAnalysis());
  EXPECT_EQ(analysis_->parameter_count, 124439808);  // GPT-2 small with tied embeddings
  EXPECT_TRUE(window_->modelPicker()->parameterLabel()->text().startsWith("124.4M")) << window_->modelPicker()->parameterLabel()->text().toStdString();
}

TEST_F(StudioWindow, BadProjectFileIsReportedAndNothingIsLost) {
  window_->document()->setValue("/train/steps", 1234);
  const nlohmann::json before = window_->document()->json();
  nlohmann::json bad = testing::tinyProject();
  bad["model"]["n_head"] = -4;
  const QString bad_path = dir_.filePath("bad.json");
  testing::writeText(bad_path, bad.dump());

  EXPECT_FALSE(window_->openProject(bad_path));
  QLabel* notice = window_->notice();
  EXPECT_FALSE(notice->isHidden());
  EXPECT_TRUE(notice->text().contains("model.n_head")) << notice->text().toStdString();
  EXPECT_TRUE(notice->text().contains(bad_path));
  EXPECT_EQ(window_->document()->json(), before);
  EXPECT_TRUE(window_->document()->isModified());
  EXPECT_EQ(window_->document()->path(), QFileInfo(project_path_).absoluteFilePath());

  EXPECT_FALSE(window_->openProject(dir_.filePath("missing.json")));
  EXPECT_TRUE(notice->text().contains("missing.json"));
  EXPECT_EQ(window_->document()->json(), before);
}

TEST_F(StudioWindow, SequenceParallelismLowersTheActivationBarsAtTensorParallelTwo) {
  window_->document()->setValue("/parallel/tp", 2);  // 2 devices: dp 1 x tp 2
  ASSERT_TRUE(nextAnalysis());
  ASSERT_FALSE(analysis_->error) << analysis_->error->message;
  const std::vector<double> tp_only = window_->memoryPanel()->categoryValues(3);
  ASSERT_EQ(tp_only.size(), 2u);

  window_->showPage(MainWindow::Page::plan);
  auto* sequence_parallel = qobject_cast<QCheckBox*>(window_->planEditor()->fieldWidget("parallel.sequence_parallel"));
  ASSERT_NE(sequence_parallel, nullptr);
  ASSERT_TRUE(sequence_parallel->isEnabled());
  QTest::mouseClick(sequence_parallel, Qt::LeftButton, {}, QPoint(8, sequence_parallel->height() / 2));
  EXPECT_EQ(window_->document()->value("/parallel/sequence_parallel"), true);
  ASSERT_TRUE(nextAnalysis());
  ASSERT_FALSE(analysis_->error) << analysis_->error->message;
  const std::vector<double> with_sp = window_->memoryPanel()->categoryValues(3);
  ASSERT_EQ(with_sp.size(), 2u);
  // Norms, residuals and dropout now hold 1/tp of the tokens on each rank.
  EXPECT_LT(with_sp[0], tp_only[0]);
  EXPECT_EQ(with_sp[0], with_sp[1]);
}

TEST_F(StudioWindow, DetectThisMachineFillsTheDevicesFromTheEngineAsOneUndoStep) {
  window_->document()->setValue("/devices/count", 7);
  window_->showPage(MainWindow::Page::mesh);
  MeshDesignerView* mesh = window_->meshDesigner();
  QTest::mouseClick(mesh->detectButton(), Qt::LeftButton);
  ASSERT_TRUE(waitUntil([&] { return mesh->detectButton()->isEnabled(); }, 20000)) << "the engine never answered";
  // The engine reports this machine: no GPU here, so one process per core.
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  EXPECT_EQ(window_->document()->value("/devices/kind"), "cpu") << mesh->detectStatus()->text().toStdString();
  EXPECT_EQ(window_->document()->value("/devices/count"), cores);
  EXPECT_EQ(mesh->deviceCountSpin()->value(), cores);
  EXPECT_GT(window_->document()->value("/devices/memory_gb").get<double>(), 0.0);
  EXPECT_TRUE(mesh->detectStatus()->text().startsWith(QString::number(cores) + " CPU cores"));
  window_->document()->undoStack()->undo();
  EXPECT_EQ(window_->document()->value("/devices/count"), 7);
}

TEST_F(StudioWindow, OptionsTheEngineCannotRunAreDisabledWithItsReason) {
  QComboBox* zero = window_->planEditor()->zeroCombo();
  Project probe = projectFromJson(testing::tinyProject());
  probe.plan.zero = 3;
  std::string expected;
  try {
    rejectUnavailableFeatures(probe);
  } catch (const std::invalid_argument& error) {
    expected = error.what();
  }
  const QModelIndex stage3 = zero->model()->index(3, 0);
  if (expected.empty()) {
    EXPECT_TRUE(zero->model()->flags(stage3).testFlag(Qt::ItemIsEnabled));
  } else {
    EXPECT_FALSE(zero->model()->flags(stage3).testFlag(Qt::ItemIsEnabled));
    EXPECT_EQ(zero->model()->data(stage3, Qt::ToolTipRole).toString().toStdString(), expected);
  }
}

}  // namespace
}  // namespace behemoth::ui
