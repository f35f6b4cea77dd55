// The plan editor's tensor-parallel mode and depth, and the Mesh view's drawing of the tp grid,
// through the real window: the mode reaches the document, depth is only for 2.5D, a grid that tp
// cannot form is refused at the field, the memory estimate follows the mode (grids split the
// norms and residuals that 1D keeps whole), and the Mesh view colours the grid's rows, columns
// and depth and labels each tile with its grid coordinates.
#include <QAbstractButton>
#include <QComboBox>
#include <QLabel>
#include <QSpinBox>
#include <gtest/gtest.h>

#include <cstdint>

#include "tests/ui/plan_window_test.h"
#include "tests/ui/ui_test_support.h"
#include "ui/main_window.h"
#include "ui/memory_panel.h"
#include "ui/mesh_designer_view.h"
#include "ui/mesh_grid_widget.h"
#include "ui/plan_editor_view.h"

namespace behemoth::ui {
namespace {

constexpr int kActivations = 3;  // MemoryPanel's category index

// Eight devices, all tensor parallel; micro-batches of 4 split into every grid's batch chunks.
nlohmann::json gridProject() {
  nlohmann::json project = testing::tinyProject();
  project["devices"]["count"] = 8;
  project["parallel"]["tp"] = 8;
  project["model"]["n_head"] = 8;
  project["train"]["micro_batch_size"] = 4;
  return project;
}

class TensorGridPlan : public testing::PlanWindowTest {
 protected:
  void SetUp() override { openWindow(gridProject(), "grid.json"); }
  void choose(QComboBox* combo, const QString& value) {
    const int index = combo->findData(value);
    ASSERT_GE(index, 0) << value.toStdString();
    combo->setCurrentIndex(index);
    emit combo->activated(index);  // what a user's pick sends
    ASSERT_TRUE(nextAnalysis());
  }
  std::int64_t activationsOfRank0() const { return analysis_->devices.at(0).activations; }
};

TEST_F(TensorGridPlan, ModeAndDepthReachTheDocumentAndTheEstimate) {
  QComboBox* mode = editor_->tpModeCombo();
  QSpinBox* depth = editor_->tpDepthSpin();
  ASSERT_NE(mode, nullptr);
  ASSERT_NE(depth, nullptr);
  EXPECT_TRUE(mode->isEnabled());   // tp 8
  EXPECT_FALSE(depth->isEnabled()); // depth is 2.5D's only
  ASSERT_FALSE(analysis_->error) << analysis_->error->message;
  const std::int64_t one_d = activationsOfRank0();

  choose(mode, "3d");
  EXPECT_EQ(window_->document()->value("/parallel/tp_mode"), "3d");
  ASSERT_FALSE(analysis_->error) << analysis_->error->message;
  // 1D keeps the norm inputs and residuals whole on every rank; the cube splits every activation.
  EXPECT_LT(activationsOfRank0(), one_d);
  const std::vector<double> bars = window_->memoryPanel()->categoryValues(kActivations);
  ASSERT_FALSE(bars.empty());
  EXPECT_DOUBLE_EQ(bars.at(0), double(activationsOfRank0()) / 1e9);

  choose(mode, "2.5d");
  EXPECT_TRUE(depth->isEnabled());
  depth->setValue(2);
  ASSERT_TRUE(nextAnalysis());
  EXPECT_EQ(window_->document()->value("/parallel/tp_depth"), 2);
  ASSERT_FALSE(analysis_->error) << analysis_->error->message;

  // 2D needs a square: 8 is refused, at the tp field, naming it.
  choose(mode, "2d");
  ASSERT_TRUE(analysis_->error);
  EXPECT_EQ(analysis_->error->field, "parallel.tp");
  EXPECT_NE(analysis_->error->message.find("square"), std::string::npos) << analysis_->error->message;
}

TEST_F(TensorGridPlan, MeshViewColoursTheGridsSidesAndLabelsTheTiles) {
  choose(editor_->tpModeCombo(), "3d");
  ASSERT_FALSE(analysis_->error) << analysis_->error->message;
  MeshDesignerView* mesh = window_->meshDesigner();
  MeshGridWidget* grid = mesh->grid();
  ASSERT_TRUE(grid->tensorGrid().has_value());
  for (int sub_axis = 0; sub_axis < 3; ++sub_axis) {
    QAbstractButton* button = mesh->gridAxisButton(sub_axis);
    ASSERT_NE(button, nullptr);
    EXPECT_FALSE(button->isHidden());
  }
  EXPECT_EQ(mesh->gridAxisButton(2)->text(), "tp_z");
  EXPECT_EQ(grid->gridCoordinates(5).toStdString(), "(x1 y0 z1)");  // 5 = (1 * 2 + 0) * 2 + 1
  // tp rank t = (x * 2 + y) * 2 + z: the z groups are neighbours {0,1}, {2,3}; the x groups {0,4}.
  mesh->gridAxisButton(2)->click();
  EXPECT_EQ(grid->highlightGridAxis(), 2);
  EXPECT_EQ(grid->groupOf(0), grid->groupOf(1));
  EXPECT_NE(grid->groupOf(0), grid->groupOf(2));
  mesh->gridAxisButton(0)->click();
  EXPECT_EQ(grid->groupOf(0), grid->groupOf(4));
  EXPECT_NE(grid->groupOf(0), grid->groupOf(1));
  EXPECT_EQ(grid->groupOf(3), grid->groupOf(7));

  // Back to 1D: the grid's buttons go, and the colours follow the whole tp group again.
  choose(editor_->tpModeCombo(), "1d");
  EXPECT_FALSE(grid->tensorGrid().has_value());
  EXPECT_TRUE(mesh->gridAxisButton(0)->isHidden());
  EXPECT_EQ(grid->highlightGridAxis(), -1);
  for (int rank = 1; rank < 8; ++rank) EXPECT_EQ(grid->groupOf(rank), grid->groupOf(0));
}

}  // namespace
}  // namespace behemoth::ui
