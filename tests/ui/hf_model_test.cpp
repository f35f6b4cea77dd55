// The model picker opening a Hugging Face model directory: the directories are written here, from
// this file's own list of Hugging Face tensor names and shapes (safetensors headers through the
// engine's serializer, zero weights), so the counts the picker shows are checked against sums
// computed here, not against the engine's own parameter list.
#include <QComboBox>
#include <QCoreApplication>
#include <QDropEvent>
#include <QLabel>
#include <QLocale>
#include <QMimeData>
#include <QPushButton>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QUrl>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "backend/checkpoint/safetensors.h"
#include "backend/project/project.h"
#include "tests/ui/ui_test_support.h"
#include "ui/hf_model_panel.h"
#include "ui/main_window.h"
#include "ui/model_picker_view.h"
#include "ui/project_document.h"

namespace behemoth::ui {
namespace {

namespace fs = std::filesystem;

struct HfTensor {
  std::string name;
  std::vector<std::int64_t> shape;
};

std::int64_t elementsOf(const std::vector<HfTensor>& tensors) {
  std::int64_t total = 0;
  for (const HfTensor& tensor : tensors) {
    std::int64_t n = 1;
    for (const std::int64_t extent : tensor.shape) n *= extent;
    total += n;
  }
  return total;
}

void writeFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

// A safetensors file of `tensors` in `dtype`, every weight zero (the picker reads headers only).
void writeSafetensors(const fs::path& path, const std::vector<HfTensor>& tensors, const std::string& dtype) {
  std::vector<SafetensorsEntry> entries;
  for (const HfTensor& tensor : tensors) entries.push_back({tensor.name, dtype, tensor.shape, 0, 0});
  const std::string header = SafetensorsHeader::serialize(entries, {{"format", "pt"}});
  const int element = dtype == "F32" ? 4 : 2;
  writeFile(path, header + std::string(static_cast<std::size_t>(elementsOf(tensors) * element), '\0'));
}

// LLaMA with grouped-query attention (4 heads, 2 key/value heads), untied head, BF16, in two shards.
constexpr int kLayers = 2, kWidth = 32, kHeads = 4, kKvHeads = 2, kFfn = 64, kContext = 128, kVocab = 320;

std::vector<HfTensor> llamaTensors(int layers) {
  const std::int64_t d = kWidth, kv = kKvHeads * (kWidth / kHeads);
  std::vector<HfTensor> tensors = {{"model.embed_tokens.weight", {kVocab, d}}};
  for (int i = 0; i < layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    tensors.push_back({p + "input_layernorm.weight", {d}});
    tensors.push_back({p + "self_attn.q_proj.weight", {d, d}});
    tensors.push_back({p + "self_attn.k_proj.weight", {kv, d}});
    tensors.push_back({p + "self_attn.v_proj.weight", {kv, d}});
    tensors.push_back({p + "self_attn.o_proj.weight", {d, d}});
    tensors.push_back({p + "post_attention_layernorm.weight", {d}});
    tensors.push_back({p + "mlp.gate_proj.weight", {kFfn, d}});
    tensors.push_back({p + "mlp.up_proj.weight", {kFfn, d}});
    tensors.push_back({p + "mlp.down_proj.weight", {d, kFfn}});
  }
  tensors.push_back({"model.norm.weight", {d}});
  tensors.push_back({"lm_head.weight", {kVocab, d}});
  return tensors;
}

nlohmann::json llamaConfig() {
  return {{"model_type", "llama"},         {"architectures", {"LlamaForCausalLM"}},
          {"num_hidden_layers", kLayers},  {"num_attention_heads", kHeads},
          {"num_key_value_heads", kKvHeads}, {"hidden_size", kWidth},
          {"intermediate_size", kFfn},     {"max_position_embeddings", kContext},
          {"vocab_size", kVocab},          {"rms_norm_eps", 1e-5},
          {"tie_word_embeddings", false},  {"hidden_act", "silu"}};
}

// Shard 1: the embedding and layer 0; shard 2: the rest; the index maps every tensor.
void writeLlamaDir(const fs::path& dir) {
  fs::create_directories(dir);
  writeFile(dir / "config.json", llamaConfig().dump(1));
  const std::vector<HfTensor> all = llamaTensors(kLayers);
  const std::vector<HfTensor> first(all.begin(), all.begin() + 10), second(all.begin() + 10, all.end());
  const std::string names[2] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
  writeSafetensors(dir / names[0], first, "BF16");
  writeSafetensors(dir / names[1], second, "BF16");
  nlohmann::json index = {{"metadata", {{"total_size", elementsOf(all) * 2}}}, {"weight_map", nlohmann::json::object()}};
  for (const HfTensor& t : first) index["weight_map"][t.name] = names[0];
  for (const HfTensor& t : second) index["weight_map"][t.name] = names[1];
  writeFile(dir / "model.safetensors.index.json", index.dump(1));
  writeFile(dir / "tokenizer.model", "a SentencePiece model would be here; the picker only sees that it exists");
}

// GPT-2 (tied head, Conv1D weights stored [in, out]) in one F32 file, with a BPE vocab.json + merges.txt.
constexpr int kGptLayers = 1, kGptWidth = 16, kGptHeads = 2, kGptContext = 32, kGptVocab = 256;

std::vector<HfTensor> gpt2Tensors() {
  const std::int64_t d = kGptWidth;
  std::vector<HfTensor> tensors = {{"wte.weight", {kGptVocab, d}}, {"wpe.weight", {kGptContext, d}}};
  for (int i = 0; i < kGptLayers; ++i) {
    const std::string p = "h." + std::to_string(i) + ".";
    tensors.insert(tensors.end(), {{p + "ln_1.weight", {d}},          {p + "ln_1.bias", {d}},
                                   {p + "attn.c_attn.weight", {d, 3 * d}}, {p + "attn.c_attn.bias", {3 * d}},
                                   {p + "attn.c_proj.weight", {d, d}},    {p + "attn.c_proj.bias", {d}},
                                   {p + "ln_2.weight", {d}},          {p + "ln_2.bias", {d}},
                                   {p + "mlp.c_fc.weight", {d, 4 * d}},   {p + "mlp.c_fc.bias", {4 * d}},
                                   {p + "mlp.c_proj.weight", {4 * d, d}}, {p + "mlp.c_proj.bias", {d}}});
  }
  tensors.push_back({"ln_f.weight", {d}});
  tensors.push_back({"ln_f.bias", {d}});
  return tensors;
}

void writeGpt2Dir(const fs::path& dir) {
  fs::create_directories(dir);
  const nlohmann::json config = {{"model_type", "gpt2"}, {"architectures", {"GPT2LMHeadModel"}}, {"n_layer", kGptLayers},
                                 {"n_head", kGptHeads},  {"n_embd", kGptWidth},  {"n_positions", kGptContext},
                                 {"vocab_size", kGptVocab}};
  writeFile(dir / "config.json", config.dump(1));
  writeSafetensors(dir / "model.safetensors", gpt2Tensors(), "F32");
  writeFile(dir / "vocab.json", "{}");
  writeFile(dir / "merges.txt", "#version: 0.2\n");
}

QString exact(std::int64_t value) { return QLocale(QLocale::English).toString(static_cast<qlonglong>(value)); }

class HfModelPicker : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.isValid());
    project_path_ = dir_.filePath("tiny.json");
    testing::writeText(project_path_, testing::tinyProject().dump(2));
    window_ = std::make_unique<MainWindow>(dir_.filePath("history.sqlite"), false);
    window_->resize(1400, 900);
    window_->show();
    ASSERT_TRUE(window_->openProject(project_path_));
    window_->showPage(MainWindow::Page::model);
    analysis_ = testing::waitForAnalysis(*window_->estimates());
    ASSERT_TRUE(analysis_);
    llama_ = fs::path(dir_.filePath("llama-gqa").toStdString());
    writeLlamaDir(llama_);
  }
  AnalysisPtr nextAnalysis() {
    analysis_ = testing::waitForAnalysis(*window_->estimates(), analysis_);
    return analysis_;
  }
  ModelPickerView* picker() const { return window_->modelPicker(); }
  HfModelPanel* panel() const { return picker()->hfPanel(); }
  QString fact(const char* name) const { return panel()->fact(QString::fromLatin1(name))->text(); }
  int spin(const char* field) const { return qobject_cast<QSpinBox*>(picker()->fieldWidget(field))->value(); }

  QTemporaryDir dir_;
  QString project_path_;
  std::unique_ptr<MainWindow> window_;
  AnalysisPtr analysis_;
  fs::path llama_;
};

TEST_F(HfModelPicker, OpeningADirectoryShowsItsSizesWeightsAndTokenizerAndSetsThePathInOneUndoStep) {
  const nlohmann::json before = window_->document()->json();
  const int steps = window_->document()->undoStack()->count();
  EXPECT_TRUE(panel()->isHidden());

  ASSERT_TRUE(picker()->openHfModel(QString::fromStdString(llama_.string())));
  EXPECT_FALSE(panel()->isHidden());
  EXPECT_TRUE(panel()->errorLabel()->isHidden());
  const std::int64_t parameters = elementsOf(llamaTensors(kLayers));
  EXPECT_EQ(fact("directory").toStdString(), llama_.string());
  EXPECT_EQ(fact("architecture"), "llama · LlamaForCausalLM (the engine's LLaMA)");
  EXPECT_EQ(fact("sizes"), "2 layers · 4 heads, 2 key/value · width 32 · MLP 64 · context 128 · vocabulary 320");
  EXPECT_TRUE(fact("parameters").endsWith("(" + exact(parameters) + ")")) << fact("parameters").toStdString();
  EXPECT_EQ(fact("dtype"), "BF16");
  EXPECT_TRUE(fact("weights").endsWith("(" + exact(2 * parameters) + " bytes)")) << fact("weights").toStdString();
  EXPECT_EQ(fact("shards"), "2 safetensors shards, with model.safetensors.index.json");
  EXPECT_EQ(fact("tokenizer"), "tokenizer.model");

  // The project holds the path only; the sizes follow from config.json, as the engine parses them.
  EXPECT_EQ(window_->document()->value("/model"), nlohmann::json({{"hf_pretrained", llama_.string()}}));
  EXPECT_EQ(window_->document()->undoStack()->count(), steps + 1);
  EXPECT_EQ(spin("model.n_layer"), kLayers);
  EXPECT_EQ(spin("model.n_head"), kHeads);
  EXPECT_EQ(spin("model.n_kv_head"), kKvHeads);
  EXPECT_EQ(spin("model.d_model"), kWidth);
  EXPECT_EQ(spin("model.d_ff"), kFfn);
  EXPECT_EQ(spin("model.seq_len"), kContext);
  EXPECT_EQ(spin("model.vocab_size"), kVocab);
  EXPECT_EQ(qobject_cast<QComboBox*>(picker()->fieldWidget("model.arch"))->currentData().toString(), "llama");
  ASSERT_TRUE(nextAnalysis());
  ASSERT_FALSE(analysis_->error) << analysis_->error->message;
  EXPECT_EQ(analysis_->parameter_count, parameters);  // the estimate's model is the one the files hold

  window_->document()->undoStack()->undo();
  EXPECT_EQ(window_->document()->json(), before);
  EXPECT_TRUE(panel()->isHidden());
  EXPECT_EQ(spin("model.n_layer"), before["model"]["n_layer"].get<int>());
  window_->document()->undoStack()->redo();
  EXPECT_EQ(fact("sizes"), "2 layers · 4 heads, 2 key/value · width 32 · MLP 64 · context 128 · vocabulary 320");
  EXPECT_EQ(spin("model.d_model"), kWidth);
}

TEST_F(HfModelPicker, ASizeSetInTheProjectOverridesConfigJsonAndTheWeightsMustStillFit) {
  ASSERT_TRUE(picker()->openHfModel(QString::fromStdString(llama_.string())));
  ASSERT_TRUE(nextAnalysis());
  // A shorter context changes no LLaMA weight shape.
  qobject_cast<QSpinBox*>(picker()->fieldWidget("model.seq_len"))->setValue(64);
  EXPECT_EQ(window_->document()->value("/model/seq_len"), 64);
  ASSERT_TRUE(nextAnalysis());
  ASSERT_FALSE(analysis_->error) << analysis_->error->message;
  // A wider MLP does: the engine names the file and the tensor.
  qobject_cast<QSpinBox*>(picker()->fieldWidget("model.d_ff"))->setValue(96);
  ASSERT_TRUE(nextAnalysis());
  ASSERT_TRUE(analysis_->error);
  EXPECT_EQ(analysis_->error->field, "model.hf_pretrained");
  EXPECT_NE(analysis_->error->message.find("model-00001-of-00002.safetensors: tensor model.layers.0.mlp.gate_proj.weight "
                                           "has shape [64, 32], but config.json's sizes give [96, 32]"),
            std::string::npos)
      << analysis_->error->message;
}

TEST_F(HfModelPicker, TheSavedProjectKeepsThePathAndReopeningShowsTheModel) {
  ASSERT_TRUE(picker()->openHfModel(QString::fromStdString(llama_.string())));
  const QString saved = dir_.filePath("pretrained.json");
  window_->document()->saveAs(saved);
  EXPECT_EQ(readProjectJson(saved.toStdString())["model"], nlohmann::json({{"hf_pretrained", llama_.string()}}));
  EXPECT_EQ(loadProject(saved.toStdString()).model_hf_pretrained, llama_.string());  // the engine reads it back

  ASSERT_TRUE(window_->openProject(project_path_));
  EXPECT_TRUE(panel()->isHidden());
  ASSERT_TRUE(window_->openProject(saved));
  EXPECT_FALSE(panel()->isHidden());
  EXPECT_EQ(fact("directory").toStdString(), llama_.string());
  EXPECT_EQ(fact("shards"), "2 safetensors shards, with model.safetensors.index.json");
  EXPECT_EQ(spin("model.n_kv_head"), kKvHeads);
}

TEST_F(HfModelPicker, AFolderDroppedOnThePickerOpens) {
  const fs::path gpt2 = fs::path(dir_.filePath("gpt2").toStdString());
  writeGpt2Dir(gpt2);
  QMimeData mime;
  mime.setUrls({QUrl::fromLocalFile(QString::fromStdString(gpt2.string()) + "/")});
  QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
  QCoreApplication::sendEvent(picker(), &enter);
  EXPECT_TRUE(enter.isAccepted());
  QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
  QCoreApplication::sendEvent(picker(), &drop);

  EXPECT_EQ(window_->document()->value("/model"), nlohmann::json({{"hf_pretrained", gpt2.string()}}));  // no trailing '/'
  const std::int64_t parameters = elementsOf(gpt2Tensors());
  EXPECT_EQ(fact("architecture"), "gpt2 · GPT2LMHeadModel (the engine's GPT)");
  EXPECT_EQ(fact("sizes"), "1 layer · 2 heads · width 16 · MLP 64 · context 32 · vocabulary 256");
  EXPECT_TRUE(fact("parameters").endsWith("(" + exact(parameters) + ")")) << fact("parameters").toStdString();
  EXPECT_EQ(fact("dtype"), "F32");
  EXPECT_TRUE(fact("weights").endsWith("(" + exact(4 * parameters) + " bytes)")) << fact("weights").toStdString();
  EXPECT_EQ(fact("shards"), "1 safetensors file");
  EXPECT_EQ(fact("tokenizer"), "vocab.json, merges.txt");
  ASSERT_TRUE(nextAnalysis());
  ASSERT_FALSE(analysis_->error) << analysis_->error->message;
  EXPECT_EQ(analysis_->parameter_count, parameters);

  // A file is not a model directory: not even offered.
  QMimeData file;
  file.setUrls({QUrl::fromLocalFile(QString::fromStdString((gpt2 / "config.json").string()))});
  QDragEnterEvent file_enter(QPoint(10, 10), Qt::CopyAction, &file, Qt::LeftButton, Qt::NoModifier);
  file_enter.ignore();
  QCoreApplication::sendEvent(picker(), &file_enter);
  EXPECT_FALSE(file_enter.isAccepted());
}

TEST_F(HfModelPicker, ADirectoryWithoutTokenizerFilesSaysTheByteTokenizer) {
  fs::remove(llama_ / "tokenizer.model");
  ASSERT_TRUE(picker()->openHfModel(QString::fromStdString(llama_.string())));
  EXPECT_EQ(fact("tokenizer"), "none: byte tokenizer");
  EXPECT_TRUE(panel()->tokenizerButton()->isHidden());
}

TEST_F(HfModelPicker, TheTokenizerIsOfferedAsDataTokenizerOnlyWhereTheProjectHasTheKey) {
  ASSERT_TRUE(picker()->openHfModel(QString::fromStdString(llama_.string())));
  // Whether this engine's schema has data.tokenizer, asked of the parser directly.
  nlohmann::json with_key = testing::tinyProject();
  with_key["data"]["tokenizer"] = "byte";
  bool has_key = true;
  try {
    projectFromJson(with_key);
  } catch (const std::invalid_argument& error) {
    has_key = std::string(error.what()).find("data.tokenizer: unknown key") == std::string::npos;
  }
  EXPECT_EQ(engineHasDataTokenizer(), has_key);
  if (!has_key) {
    EXPECT_TRUE(panel()->tokenizerButton()->isHidden());
    EXPECT_TRUE(window_->document()->value("/data/tokenizer").is_null());
    return;
  }
  ASSERT_FALSE(panel()->tokenizerButton()->isHidden());
  const int steps = window_->document()->undoStack()->count();
  panel()->tokenizerButton()->click();
  EXPECT_EQ(window_->document()->value("/data/tokenizer"), llama_.string());
  EXPECT_EQ(window_->document()->undoStack()->count(), steps + 1);
  EXPECT_TRUE(panel()->tokenizerButton()->isHidden());  // already set
}

TEST_F(HfModelPicker, ABadDirectoryShowsTheEnginesLineInThePickerAndChangesNothing) {
  const nlohmann::json before = window_->document()->json();
  const int steps = window_->document()->undoStack()->count();
  const auto refused = [&](const fs::path& dir, const std::string& expected) {
    SCOPED_TRACE(expected);
    EXPECT_FALSE(picker()->openHfModel(QString::fromStdString(dir.string())));
    EXPECT_FALSE(panel()->isHidden());
    EXPECT_FALSE(panel()->errorLabel()->isHidden());
    const std::string shown = panel()->errorLabel()->text().toStdString();
    EXPECT_EQ(shown, expected);
    EXPECT_EQ(shown.find('\n'), std::string::npos);  // one line
    EXPECT_EQ(window_->document()->json(), before);
    EXPECT_EQ(window_->document()->undoStack()->count(), steps);
    EXPECT_FALSE(window_->document()->isModified());
  };
  const fs::path empty = llama_.parent_path() / "config-only";
  fs::create_directories(empty);
  writeFile(empty / "config.json", llamaConfig().dump());
  refused(empty, "model.hf_pretrained: " + empty.string() +
                     ": no weights: neither model.safetensors nor model.safetensors.index.json");

  const fs::path shard = llama_ / "model-00002-of-00002.safetensors";
  const fs::path aside = llama_.parent_path() / "aside.safetensors";
  fs::rename(shard, aside);
  refused(llama_, "model.hf_pretrained: " + shard.string() + ": missing (the index names it for tensor lm_head.weight)");
  fs::rename(aside, shard);

  nlohmann::json three_layers = llamaConfig();
  three_layers["num_hidden_layers"] = 3;
  writeFile(llama_ / "config.json", three_layers.dump());
  refused(llama_, "model.hf_pretrained: " + llama_.string() +
                      ": no file holds tensor model.layers.2.input_layernorm.weight (the model's blocks.2.attn_norm.weight)");

  refused(llama_.parent_path() / "no-such-dir", "model.hf_pretrained: no such directory: " +
                                                    (llama_.parent_path() / "no-such-dir").string());

  // The next directory that opens clears the message.
  writeFile(llama_ / "config.json", llamaConfig().dump());
  ASSERT_TRUE(picker()->openHfModel(QString::fromStdString(llama_.string())));
  EXPECT_TRUE(panel()->errorLabel()->isHidden());
}

}  // namespace
}  // namespace behemoth::ui
