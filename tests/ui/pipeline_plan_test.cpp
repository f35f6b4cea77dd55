// The plan editor's pipeline and recomputation settings, driven through the real window: what is
// enabled follows parallel.pp and the schedule, the choices reach the saved project file, a
// combination the engine refuses shows the engine's own message, the memory estimate follows the
// schedule and the recomputation, and the plan page draws the plan's schedule.
#include <QComboBox>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTest>
#include <gtest/gtest.h>

#include "backend/project/project.h"
#include "tests/ui/plan_window_test.h"
#include "tests/ui/ui_test_support.h"
#include "ui/main_window.h"
#include "ui/memory_panel.h"
#include "ui/plan_editor_view.h"
#include "ui/schedule_view.h"

namespace behemoth::ui {
namespace {

constexpr int kActivations = 3;  // MemoryPanel's category index

// Eight blocks on four devices; 16 sequences in micro-batches of 2: 8 micro-batches per step.
nlohmann::json pipelineProject() {
  nlohmann::json project = testing::tinyProject();
  project["model"]["n_layer"] = 8;
  project["devices"]["count"] = 4;
  project["train"]["micro_batch_size"] = 2;
  return project;
}

// What the engine says about the project (parse and launch checks), or empty.
std::string engineRefusal(const nlohmann::json& json) {
  try {
    Project project = projectFromJson(json, ".");
    validateForWorld(project, project.devices.count);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return {};
}

class PipelinePlan : public testing::PlanWindowTest {
 protected:
  void SetUp() override { openWindow(pipelineProject(), "pipeline.json"); }
  void setPp(int pp) {
    window_->document()->setValue("/parallel/pp", pp);
    ASSERT_TRUE(nextAnalysis());
  }
  void chooseSchedule(const QString& value) {
    QComboBox* combo = editor_->scheduleCombo();
    const int index = combo->findData(value);
    ASSERT_GE(index, 0);
    combo->setCurrentIndex(index);
    emit combo->activated(index);  // what a user's pick sends
    ASSERT_TRUE(nextAnalysis());
  }
  void typeLayers(const QString& text) {
    QLineEdit* edit = editor_->stageLayersEdit();
    edit->setFocus();
    edit->selectAll();
    QTest::keyClicks(edit, text);
    if (text.isEmpty()) QTest::keyClick(edit, Qt::Key_Backspace);
    QTest::keyClick(edit, Qt::Key_Return);
    ASSERT_TRUE(nextAnalysis());
  }
  std::string activeError() const { return analysis_->error ? analysis_->error->message : std::string(); }

};

TEST_F(PipelinePlan, AtPpOneTheScheduleAndTheSplitAreDisabledWithTheReason) {
  ASSERT_EQ(analysis_->project->plan.pp, 1);
  EXPECT_FALSE(editor_->scheduleCombo()->isEnabled());
  EXPECT_FALSE(editor_->stageLayersEdit()->isEnabled());
  EXPECT_FALSE(editor_->virtualStagesSpin()->isEnabled());
  EXPECT_TRUE(editor_->scheduleCombo()->toolTip().contains("needs parallel.pp > 1"));
  EXPECT_TRUE(editor_->stageLayersEdit()->toolTip().contains("needs parallel.pp > 1"));
  EXPECT_TRUE(editor_->pipelineHint()->text().contains("needs parallel.pp > 1"));
  // Recomputation does not depend on the pipeline.
  EXPECT_TRUE(editor_->recomputeCombo()->isEnabled());
  // No pipeline: nothing to draw, and the plan page does not show the schedule.
  EXPECT_FALSE(window_->scheduleView()->hasPipeline());
  EXPECT_FALSE(window_->scheduleView()->isVisible());
}

TEST_F(PipelinePlan, AtPpFourTheScheduleEnablesAndVirtualStagesOnlyForInterleaved) {
  setPp(4);
  EXPECT_TRUE(editor_->scheduleCombo()->isEnabled());
  EXPECT_TRUE(editor_->stageLayersEdit()->isEnabled());
  EXPECT_FALSE(editor_->virtualStagesSpin()->isEnabled());  // 1f1b
  EXPECT_TRUE(editor_->virtualStagesSpin()->toolTip().contains("interleaved"));
  EXPECT_FALSE(editor_->pipelineHint()->text().contains("needs parallel.pp > 1"));

  chooseSchedule("interleaved");
  EXPECT_EQ(window_->document()->value("/parallel/pp_schedule"), "interleaved");
  EXPECT_TRUE(editor_->virtualStagesSpin()->isEnabled());
  chooseSchedule("1f1b");
  EXPECT_FALSE(editor_->virtualStagesSpin()->isEnabled());
}

TEST_F(PipelinePlan, AnInvalidCombinationShowsTheEnginesMessage) {
  setPp(4);
  chooseSchedule("interleaved");  // with one chunk per rank: the engine refuses it
  const std::string expected = engineRefusal(window_->document()->json());
  ASSERT_FALSE(expected.empty());
  ASSERT_TRUE(analysis_->error);
  EXPECT_EQ(activeError(), expected);
  EXPECT_FALSE(editor_->pipelineError()->isHidden());
  EXPECT_EQ(editor_->pipelineError()->text().toStdString(), expected);
  QSpinBox* virtual_stages = editor_->virtualStagesSpin();
  EXPECT_TRUE(virtual_stages->property("invalid").toBool());
  EXPECT_EQ(virtual_stages->toolTip().toStdString(), expected);
  // The schedule view says the same instead of drawing.
  ScheduleView* view = window_->scheduleView();
  ASSERT_EQ(view->charts().size(), 1u);
  EXPECT_FALSE(view->charts().front().drawable());
  EXPECT_EQ(view->charts().front().message.toStdString(), expected);

  virtual_stages->setValue(2);
  ASSERT_TRUE(nextAnalysis());
  EXPECT_EQ(activeError(), "");
  EXPECT_TRUE(editor_->pipelineError()->isHidden());
  EXPECT_FALSE(virtual_stages->property("invalid").toBool());

  // Blocks per stage that do not add up to the model: the engine's message at the field.
  typeLayers("3,2,2");
  const std::string split = engineRefusal(window_->document()->json());
  ASSERT_FALSE(split.empty());
  EXPECT_EQ(activeError(), split);
  EXPECT_EQ(editor_->pipelineError()->text().toStdString(), split);
  EXPECT_TRUE(editor_->stageLayersEdit()->property("invalid").toBool());
}

TEST_F(PipelinePlan, TheChosenValuesReachTheSavedProjectFile) {
  setPp(4);
  chooseSchedule("interleaved");
  editor_->virtualStagesSpin()->setValue(2);
  ASSERT_TRUE(nextAnalysis());
  typeLayers("2,1,1,1,1,1,1,0");  // a 0 is written as given: the engine judges it
  EXPECT_EQ(window_->document()->value("/parallel/pp_layers"), nlohmann::json({2, 1, 1, 1, 1, 1, 1, 0}));
  EXPECT_NE(activeError(), "");
  typeLayers("2,1,1,1,1,1,x");  // not a number: kept as text for the engine to name
  EXPECT_EQ(window_->document()->value("/parallel/pp_layers"), nlohmann::json({2, 1, 1, 1, 1, 1, "x"}));
  EXPECT_EQ(activeError(), engineRefusal(window_->document()->json()));
  typeLayers("1,1,1,1,1,1,1,1");
  EXPECT_EQ(activeError(), "");
  QComboBox* recompute = editor_->recomputeCombo();
  const int full = recompute->findData("full");
  recompute->setCurrentIndex(full);
  emit recompute->activated(full);
  ASSERT_TRUE(nextAnalysis());
  ASSERT_TRUE(window_->saveProject());

  QFile file(project_path_);
  ASSERT_TRUE(file.open(QIODevice::ReadOnly));
  const nlohmann::json saved = nlohmann::json::parse(file.readAll().toStdString());
  EXPECT_EQ(saved["parallel"]["pp_schedule"], "interleaved");
  EXPECT_EQ(saved["parallel"]["pp_virtual"], 2);
  EXPECT_EQ(saved["parallel"]["pp_layers"], nlohmann::json({1, 1, 1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(saved["train"]["recompute"], "full");
  const Project parsed = projectFromJson(saved, dir_.path().toStdString());
  EXPECT_EQ(parsed.plan.pp_schedule, "interleaved");
  EXPECT_EQ(parsed.plan.pp_virtual, 2);

  // An empty split removes the key (an even split).
  typeLayers("");
  EXPECT_TRUE(window_->document()->value("/parallel/pp_layers").is_null());
  EXPECT_EQ(activeError(), "");
}

TEST_F(PipelinePlan, TheMemoryEstimateFollowsTheScheduleAndTheRecomputation) {
  setPp(4);
  MemoryPanel* memory = window_->memoryPanel();
  const std::vector<double> one_f_one_b = memory->categoryValues(kActivations);
  ASSERT_EQ(one_f_one_b.size(), 4u);
  ASSERT_EQ(analysis_->estimate->layout.schedule, PipelineSchedule::one_f_one_b);
  chooseSchedule("gpipe");
  ASSERT_EQ(activeError(), "");
  EXPECT_EQ(analysis_->estimate->layout.schedule, PipelineSchedule::gpipe);
  const std::vector<double> gpipe = memory->categoryValues(kActivations);
  ASSERT_EQ(gpipe.size(), 4u);
  // GPipe keeps all 8 micro-batches in flight on every stage; 1F1B keeps pp - stage of them.
  EXPECT_GT(gpipe[0], one_f_one_b[0]);
  EXPECT_GT(gpipe[3], one_f_one_b[3]);

  chooseSchedule("interleaved");
  editor_->virtualStagesSpin()->setValue(2);
  ASSERT_TRUE(nextAnalysis());
  ASSERT_EQ(activeError(), "");
  EXPECT_EQ(analysis_->estimate->layout.schedule, PipelineSchedule::interleaved);
  EXPECT_EQ(analysis_->estimate->layout.virtual_stages, 2);

  const std::vector<double> kept = memory->categoryValues(kActivations);
  QComboBox* recompute = editor_->recomputeCombo();
  const int full = recompute->findData("full");
  recompute->setCurrentIndex(full);
  emit recompute->activated(full);
  ASSERT_TRUE(nextAnalysis());
  ASSERT_EQ(activeError(), "");
  EXPECT_EQ(analysis_->estimate->layout.recompute, Recompute::full);
  EXPECT_LT(memory->categoryValues(kActivations)[0], kept[0]);
}

TEST_F(PipelinePlan, ThePlanPageDrawsThePlansScheduleAsItChanges) {
  setPp(4);
  ScheduleView* view = window_->scheduleView();
  EXPECT_TRUE(view->hasPipeline());
  EXPECT_TRUE(view->isVisible());
  ASSERT_EQ(view->charts().size(), 1u);
  const ScheduleChart& one_f_one_b = view->charts().front();
  ASSERT_EQ(one_f_one_b.rows.size(), 4u);
  EXPECT_TRUE(one_f_one_b.title.contains("1F1B")) << one_f_one_b.title.toStdString();
  EXPECT_TRUE(one_f_one_b.title.contains("8 micro-batches")) << one_f_one_b.title.toStdString();
  EXPECT_EQ(one_f_one_b.rows[0].boxes.size(), 16u);  // 8 forwards, 8 backwards

  chooseSchedule("interleaved");
  editor_->virtualStagesSpin()->setValue(2);
  ASSERT_TRUE(nextAnalysis());
  const ScheduleChart& interleaved = view->charts().front();
  ASSERT_TRUE(interleaved.drawable()) << interleaved.message.toStdString();
  EXPECT_TRUE(interleaved.title.contains("v 2")) << interleaved.title.toStdString();
  EXPECT_EQ(interleaved.rows[0].boxes.size(), 32u);  // two chunks each
}

}  // namespace
}  // namespace behemoth::ui
