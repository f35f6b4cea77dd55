// ZeRO-3 on the plan page, driven through the real window: the "Chunks and tiers" group appears
// for zero 3 and writes its keys into the project, a refused setting shows the engine's message in
// the group and at the field, the memory panel stacks each rank's device, host and disk bytes
// (the planner's chunk plan, checked against planChunks here), and the chunk view lists the
// plan's chunks.
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QTemporaryDir>
#include <QTest>
#include <gtest/gtest.h>

#include "backend/planning/plan_inputs.h"
#include "backend/project/project.h"
#include "memory/chunk_plan.h"
#include "tests/ui/plan_window_test.h"
#include "tests/ui/ui_test_support.h"
#include "ui/chunk_view.h"
#include "ui/main_window.h"
#include "ui/memory_panel.h"
#include "ui/plan_editor_view.h"

namespace behemoth::ui {
namespace {

// The planner's chunk plan of a project, computed here the way `behemoth plan` does.
ChunkPlan plannerChunks(const nlohmann::json& json) {
  Project project = projectFromJson(json, ".");
  project.plan.resolve(project.devices.count);
  return planChunks(describeModel(project.model), layoutFromProject(project));
}

nlohmann::json zeroThreeProject() {
  nlohmann::json json = testing::tinyProject();
  json["parallel"]["dp"] = 2;
  json["parallel"]["zero"] = 3;
  json["parallel"]["offload_param_fraction"] = 0.5;
  json["parallel"]["offload_optim_fraction"] = 0.5;
  return json;
}

class Zero3Plan : public testing::PlanWindowTest {
 protected:
  void open(const nlohmann::json& json) { openWindow(json, "zero3.json"); }
  template <typename Spin>
  Spin* field(const char* name) {
    auto* widget = qobject_cast<Spin*>(editor_->fieldWidget(name));
    EXPECT_NE(widget, nullptr) << name;
    if (widget) {
      EXPECT_EQ(widget->objectName().toStdString(), name);
    }
    return widget;
  }
  void typeInto(QAbstractSpinBox* spin, const QString& text) {
    spin->setFocus();
    spin->selectAll();
    QTest::keyClicks(spin, text);
    QTest::keyClick(spin, Qt::Key_Return);
  }

};

TEST_F(Zero3Plan, TheChunkGroupAppearsForZeroThreeAndWritesItsKeys) {
  nlohmann::json json = testing::tinyProject();
  json["parallel"]["dp"] = 2;
  open(json);
  EXPECT_FALSE(editor_->chunkGroup()->isVisible());
  EXPECT_FALSE(window_->chunkView()->hasChunks());

  QComboBox* zero = editor_->zeroCombo();
  const int three = zero->findData("3");
  ASSERT_GE(three, 0);
  EXPECT_TRUE(qobject_cast<QStandardItemModel*>(zero->model())->item(three)->isEnabled());
  zero->setCurrentIndex(three);
  emit zero->activated(three);
  ASSERT_TRUE(nextAnalysis());
  EXPECT_EQ(window_->document()->value("/parallel/zero"), 3);
  EXPECT_TRUE(editor_->chunkGroup()->isVisible());
  ASSERT_FALSE(analysis_->error) << analysis_->error->message;
  EXPECT_TRUE(analysis_->chunk_plan);

  // Every field of the group carries its key and writes it.
  for (const std::string& key : PlanEditorView::chunkFields()) {
    ASSERT_NE(editor_->fieldWidget(key), nullptr) << key;
    EXPECT_EQ(editor_->fieldWidget(key)->objectName().toStdString(), key);
  }
  typeInto(field<QDoubleSpinBox>("parallel.offload_param_fraction"), "0.5");
  typeInto(field<QDoubleSpinBox>("parallel.offload_optim_fraction"), "0.25");
  typeInto(field<QDoubleSpinBox>("parallel.chunk_mb"), "1");
  typeInto(field<QDoubleSpinBox>("parallel.device_budget_mb"), "512");
  QLineEdit* dir = field<QLineEdit>("parallel.offload_dir");
  dir->setFocus();
  QTest::keyClicks(dir, "tier");
  QTest::keyClick(dir, Qt::Key_Return);
  QComboBox* placement = editor_->placementCombo();
  EXPECT_FALSE(editor_->prefetchSpin()->isEnabled());  // static: prefetch does not apply
  const int automatic = placement->findData("auto");
  placement->setCurrentIndex(automatic);
  emit placement->activated(automatic);
  EXPECT_TRUE(editor_->prefetchSpin()->isEnabled());
  typeInto(field<QSpinBox>("parallel.prefetch"), "3");
  ASSERT_TRUE(nextAnalysis());

  const nlohmann::json& parallel = window_->document()->json().at("parallel");
  EXPECT_DOUBLE_EQ(parallel.at("offload_param_fraction").get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(parallel.at("offload_optim_fraction").get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(parallel.at("chunk_mb").get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(parallel.at("device_budget_mb").get<double>(), 512.0);
  EXPECT_EQ(parallel.at("offload_dir"), "tier");
  EXPECT_EQ(parallel.at("placement"), "auto");
  EXPECT_EQ(parallel.at("prefetch"), 3);
  // The engine reads back what the editor wrote.
  const Project project = projectFromJson(window_->document()->json(), dir_.path().toStdString());
  EXPECT_EQ(project.plan.placement, "auto");
  EXPECT_EQ(project.plan.prefetch, 3);
  EXPECT_DOUBLE_EQ(project.plan.offload_optim_fraction, 0.25);

  // Back to zero 2 with the keys still in the file: the group stays, so they can be taken back.
  const int two = zero->findData("2");
  zero->setCurrentIndex(two);
  emit zero->activated(two);
  ASSERT_TRUE(nextAnalysis());
  EXPECT_TRUE(editor_->chunkGroup()->isVisible());
  EXPECT_TRUE(editor_->chunkHint()->text().contains("parallel.zero 3"));
}

TEST_F(Zero3Plan, ARefusedTierSettingShowsTheEnginesMessageInTheGroupAndAtTheField) {
  nlohmann::json json = zeroThreeProject();
  json["parallel"]["offload_dir"] = dir_.path().toStdString();  // the disk tier's folder, once it is used
  open(json);
  ASSERT_FALSE(analysis_->error) << analysis_->error->message;
  EXPECT_FALSE(editor_->chunkError()->isVisible());
  // o + d above 1.
  typeInto(field<QDoubleSpinBox>("parallel.disk_optim_fraction"), "0.75");
  ASSERT_TRUE(nextAnalysis());
  ASSERT_TRUE(analysis_->error);
  const std::string message = analysis_->error->message;
  EXPECT_EQ(analysis_->error->field.rfind("parallel.", 0), 0u) << message;
  EXPECT_TRUE(editor_->chunkError()->isVisible());
  EXPECT_EQ(editor_->chunkError()->text().toStdString(), message);
  QWidget* marked = editor_->fieldWidget(analysis_->error->field);
  ASSERT_NE(marked, nullptr) << analysis_->error->field;
  EXPECT_TRUE(marked->property("invalid").toBool());
  EXPECT_EQ(marked->toolTip().toStdString(), message);
  // The chunk view says the same instead of drawing a plan.
  EXPECT_TRUE(window_->chunkView()->hasChunks());
  EXPECT_FALSE(window_->chunkView()->chart().drawable());
  EXPECT_EQ(window_->chunkView()->chart().message.toStdString(), message);

  typeInto(field<QDoubleSpinBox>("parallel.disk_optim_fraction"), "0.25");
  ASSERT_TRUE(nextAnalysis());
  EXPECT_FALSE(analysis_->error) << analysis_->error->message;
  EXPECT_FALSE(editor_->chunkError()->isVisible());
  EXPECT_FALSE(marked->property("invalid").toBool());
}

TEST_F(Zero3Plan, TheMemoryPanelStacksDeviceHostAndDiskAsThePlannerCountsThem) {
  nlohmann::json json = zeroThreeProject();
  json["parallel"]["offload_optim_fraction"] = 0.25;
  json["parallel"]["disk_optim_fraction"] = 0.25;
  json["parallel"]["offload_dir"] = dir_.path().toStdString();
  open(json);
  ASSERT_FALSE(analysis_->error) << analysis_->error->message;
  const ChunkPlan expected = plannerChunks(json);
  const std::int64_t device = expected.tier_bytes[static_cast<int>(Tier::device)];
  const std::int64_t host = expected.tier_bytes[static_cast<int>(Tier::host)];
  const std::int64_t disk = expected.tier_bytes[static_cast<int>(Tier::disk)];
  ASSERT_GT(host, 0);
  ASSERT_GT(disk, 0);

  MemoryPanel* memory = window_->memoryPanel();
  ASSERT_TRUE(memory->showsTiers());
  for (int segment : {MemoryPanel::kDeviceChunks, MemoryPanel::kGatheredChunks, MemoryPanel::kHostChunks, MemoryPanel::kDiskChunks}) {
    ASSERT_EQ(memory->tierValues(segment).size(), 2u) << segment;  // one bar per rank
  }
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_DOUBLE_EQ(memory->tierValues(MemoryPanel::kDeviceChunks)[rank], double(device) / 1e9);
    EXPECT_DOUBLE_EQ(memory->tierValues(MemoryPanel::kGatheredChunks)[rank], double(expected.device_peak_bytes - device) / 1e9);
    EXPECT_DOUBLE_EQ(memory->tierValues(MemoryPanel::kHostChunks)[rank], double(host) / 1e9);
    EXPECT_DOUBLE_EQ(memory->tierValues(MemoryPanel::kDiskChunks)[rank], double(disk) / 1e9);
  }
  // The device segments add up to the memory model's device bytes (the headline's peak).
  double device_sum = 0;
  for (int segment : {MemoryPanel::kDeviceChunks, MemoryPanel::kGatheredChunks, MemoryPanel::kTierActivations, MemoryPanel::kTierBuffers}) {
    device_sum += memory->tierValues(segment)[0];
  }
  EXPECT_NEAR(device_sum, double(analysis_->estimate->memory.peakDeviceBytes()) / 1e9, 1e-12);
  // The plain categories are not drawn; the legend names the tiers, the disk in its own entry.
  EXPECT_TRUE(memory->categoryValues(0).empty());
  const QStringList legend = memory->legendNames();
  EXPECT_TRUE(legend.contains("host memory: chunk shards")) << legend.join(", ").toStdString();
  EXPECT_TRUE(legend.contains("disk: optimizer shards")) << legend.join(", ").toStdString();
  EXPECT_FALSE(legend.contains("parameters"));

  // Moving every optimizer shard off disk empties the disk segment; zero 2 goes back to categories.
  window_->document()->setValue("/parallel/disk_optim_fraction", 0.0);
  ASSERT_TRUE(nextAnalysis());
  ASSERT_FALSE(analysis_->error) << analysis_->error->message;
  EXPECT_DOUBLE_EQ(memory->tierValues(MemoryPanel::kDiskChunks)[0], 0.0);
  window_->document()->edit(QStringLiteral("zero 2"), [](nlohmann::json& j) {
    j["parallel"]["zero"] = 2;
    for (const char* key : {"offload_param_fraction", "offload_optim_fraction", "disk_optim_fraction", "offload_dir"}) {
      j["parallel"].erase(key);
    }
  });
  ASSERT_TRUE(nextAnalysis());
  ASSERT_FALSE(analysis_->error) << analysis_->error->message;
  EXPECT_FALSE(memory->showsTiers());
  EXPECT_EQ(memory->categoryValues(0).size(), 2u);
  EXPECT_TRUE(memory->tierValues(MemoryPanel::kHostChunks).empty());
  EXPECT_FALSE(window_->chunkView()->hasChunks());
}

TEST_F(Zero3Plan, ThePlanPageListsThePlansChunks) {
  open(zeroThreeProject());
  ASSERT_FALSE(analysis_->error) << analysis_->error->message;
  const ChunkPlan expected = plannerChunks(zeroThreeProject());
  ChunkView* view = window_->chunkView();
  EXPECT_TRUE(view->hasChunks());
  EXPECT_TRUE(view->isVisible());
  const ChunkChart& chart = view->chart();
  EXPECT_FALSE(chart.measured());
  ASSERT_EQ(chart.rows.size(), expected.chunks.size());
  for (std::size_t c = 0; c < chart.rows.size(); ++c) {
    EXPECT_EQ(chart.rows[c].capacity, expected.chunks[c].capacity) << c;
    EXPECT_EQ(chart.rows[c].param_tier, expected.chunks[c].param_tier) << c;
    EXPECT_EQ(chart.rows[c].optim_tier, expected.chunks[c].optim_tier) << c;
  }
  EXPECT_TRUE(chart.title.contains("plan")) << chart.title.toStdString();
  EXPECT_TRUE(chart.source_text.contains("planChunks")) << chart.source_text.toStdString();
}

}  // namespace
}  // namespace behemoth::ui
