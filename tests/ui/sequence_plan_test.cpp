// The plan editor's sp axis and mode and the model's attention, driven through the real window:
// the mode enables at sp > 1 and reaches the document and the saved file, sp is enabled (the
// engine runs it), and the memory panel's activation bars follow: sp 2 halves them, blockwise attention
// drops dense attention's s x s scores (the figures from the planner's formula, worked out here).
#include <QComboBox>
#include <QFile>
#include <QLabel>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTest>
#include <gtest/gtest.h>

#include <cstdint>

#include "backend/project/project.h"
#include "tests/ui/plan_window_test.h"
#include "tests/ui/ui_test_support.h"
#include "ui/main_window.h"
#include "ui/memory_panel.h"
#include "ui/model_picker_view.h"
#include "ui/plan_editor_view.h"

namespace behemoth::ui {
namespace {

constexpr int kActivations = 3;  // MemoryPanel's category index

// Four devices, micro-batches of 2 sequences: the micro-batch stays 2 whatever dp the sp axis leaves.
nlohmann::json sequenceProject() {
  nlohmann::json project = testing::tinyProject();
  project["devices"]["count"] = 4;
  project["train"]["micro_batch_size"] = 2;
  return project;
}

class SequencePlan : public testing::PlanWindowTest {
 protected:
  void SetUp() override { openWindow(sequenceProject(), "sequence.json"); }
  void setValue(const std::string& pointer, const nlohmann::json& value) {
    window_->document()->setValue(pointer, value);
    ASSERT_TRUE(nextAnalysis());
    ASSERT_FALSE(analysis_->error) << analysis_->error->message;
    ASSERT_TRUE(analysis_->estimated());
  }
  void choose(QComboBox* combo, const QString& value) {
    const int index = combo->findData(value);
    ASSERT_GE(index, 0) << value.toStdString();
    combo->setCurrentIndex(index);
    emit combo->activated(index);  // what a user's pick sends
    ASSERT_TRUE(nextAnalysis());
    ASSERT_FALSE(analysis_->error) << analysis_->error->message;
  }
  // Every rank's activation bytes, as the memory panel draws them.
  std::vector<std::int64_t> activationBytes() const {
    std::vector<std::int64_t> bytes;
    for (const DeviceMemory& device : analysis_->devices) bytes.push_back(device.activations);
    const std::vector<double> bars = window_->memoryPanel()->categoryValues(kActivations);
    EXPECT_EQ(bars.size(), bytes.size());
    for (std::size_t k = 0; k < std::min(bars.size(), bytes.size()); ++k) EXPECT_DOUBLE_EQ(bars[k], double(bytes[k]) / 1e9);
    return bytes;
  }

};

TEST_F(SequencePlan, TheModeEnablesAtSpTwoAndReachesTheDocumentAndTheFile) {
  QComboBox* mode = editor_->spModeCombo();
  EXPECT_FALSE(mode->isEnabled());
  EXPECT_TRUE(editor_->sequenceHint()->text().contains("needs parallel.sp > 1"));
  // sp itself: the engine runs it, so the spin is enabled.
  EXPECT_TRUE(editor_->sequenceSpin()->isEnabled());

  setValue("/parallel/sp", 2);
  EXPECT_EQ(editor_->sequenceSpin()->value(), 2);
  EXPECT_TRUE(editor_->sequenceSpin()->isEnabled()) << "a value to take back stays editable";
  EXPECT_TRUE(mode->isEnabled());
  EXPECT_EQ(mode->currentData().toString(), "ulysses");
  EXPECT_EQ(analysis_->estimate->layout.context_mode, ContextMode::ulysses);
  EXPECT_EQ(analysis_->project->plan.dp, 2);

  choose(mode, "ring");
  EXPECT_EQ(window_->document()->value("/parallel/sp_mode"), "ring");
  EXPECT_EQ(analysis_->estimate->layout.context_mode, ContextMode::ring);
  EXPECT_TRUE(editor_->sequenceHint()->text().contains("zigzag"));
  // The traffic follows the mode: ring passes K/V blocks, Ulysses has no such collective.
  bool ring_traffic = false;
  for (const CollectiveLoad& load : analysis_->estimate->collectives) ring_traffic |= load.what == "ring attention K/V";
  EXPECT_TRUE(ring_traffic);
  EXPECT_TRUE(window_->memoryPanel()->summaryText().contains("ring attention")) << window_->memoryPanel()->summaryText().toStdString();

  ASSERT_TRUE(window_->saveProject());
  QFile file(project_path_);
  ASSERT_TRUE(file.open(QIODevice::ReadOnly));
  const nlohmann::json saved = nlohmann::json::parse(file.readAll().toStdString());
  EXPECT_EQ(saved["parallel"]["sp"], 2);
  EXPECT_EQ(saved["parallel"]["sp_mode"], "ring");
  EXPECT_EQ(projectFromJson(saved, dir_.path().toStdString()).plan.sp_mode, "ring");

  window_->document()->undoStack()->undo();
  ASSERT_TRUE(nextAnalysis());
  EXPECT_EQ(mode->currentData().toString(), "ulysses");
}

// 2 sequences x 64 tokens per micro-batch; at sp 2 each rank holds 64 of those 128 tokens of every
// activation (layers, embedding dropout, head and loss alike), so the term halves exactly.
TEST_F(SequencePlan, SpTwoHalvesTheActivationTermInBothModes) {
  const std::vector<std::int64_t> one = activationBytes();
  ASSERT_EQ(one.size(), 4u);
  ASSERT_GT(one[0], 0);
  setValue("/parallel/sp", 2);
  const std::vector<std::int64_t> ulysses = activationBytes();
  ASSERT_EQ(ulysses.size(), 4u);
  for (std::int64_t bytes : ulysses) EXPECT_EQ(2 * bytes, one[0]);
  choose(editor_->spModeCombo(), "ring");
  EXPECT_EQ(activationBytes(), ulysses);
  EXPECT_TRUE(window_->memoryPanel()->summaryText().contains("1/2 of the tokens"));
}

// The tiny GPT (2 layers, 4 heads, 64 tokens, fp32, no dropout) per micro-batch of 2 sequences:
// dense attention keeps each layer's softmax output, 4 bytes x heads x s x s x b; blockwise keeps a
// 4-byte log-sum-exp per head and token instead.
TEST_F(SequencePlan, BlockwiseAttentionLowersTheEstimatedActivations) {
  const std::int64_t layers = 2, heads = 4, s = 64, b = 2;
  const std::int64_t scores = 4 * heads * s * s * b;
  const std::int64_t log_sum_exp = 4 * heads * s * b;
  // auto is dense for these 64 tokens (one 128-token block): ask for blockwise.
  EXPECT_FALSE(analysis_->estimate->layout.fused_attention);
  setValue("/model/attention", "blockwise");
  ASSERT_TRUE(analysis_->estimate->layout.fused_attention);
  const std::vector<std::int64_t> blockwise = activationBytes();
  EXPECT_EQ(analysis_->other_attention_activation_bytes, blockwise[0] + layers * (scores - log_sum_exp));

  window_->showPage(MainWindow::Page::model);
  auto* attention = qobject_cast<QComboBox*>(window_->modelPicker()->fieldWidget("model.attention"));
  ASSERT_NE(attention, nullptr);
  auto* block = window_->modelPicker()->fieldWidget("model.attention_block");
  ASSERT_NE(block, nullptr);
  EXPECT_TRUE(block->isEnabled());
  choose(attention, "dense");
  EXPECT_EQ(window_->document()->value("/model/attention"), "dense");
  EXPECT_FALSE(analysis_->estimate->layout.fused_attention);
  EXPECT_FALSE(block->isEnabled()) << "the block length is blockwise attention's";
  const std::vector<std::int64_t> dense = activationBytes();
  for (std::size_t k = 0; k < dense.size(); ++k) EXPECT_EQ(dense[k] - blockwise[k], layers * (scores - log_sum_exp));
  EXPECT_EQ(analysis_->other_attention_activation_bytes, blockwise[0]);
  EXPECT_TRUE(window_->memoryPanel()->summaryText().contains("dense attention keeps the s×s scores"));

  // A preset replaces the sizes, not the attention.
  window_->modelPicker()->choosePreset(1);  // GPT-2 Small
  EXPECT_EQ(window_->document()->value("/model/n_layer"), 12);
  EXPECT_EQ(window_->document()->value("/model/attention"), "dense");
}

}  // namespace
}  // namespace behemoth::ui
