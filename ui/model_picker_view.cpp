#include "ui/model_picker_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QMessageBox>
#include <QMimeData>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

#include "backend/model/hf_config.h"
#include "memory/model_description.h"
#include "ui/field_binding.h"
#include "ui/hf_model_panel.h"
#include "ui/model_zoo.h"
#include "ui/project_document.h"

namespace behemoth::ui {
namespace {

QSpinBox* sizeSpin(int minimum, int maximum, const QString& special = {}) {
  auto* spin = new QSpinBox;
  spin->setRange(minimum, maximum);
  spin->setAccelerated(true);
  if (!special.isEmpty()) spin->setSpecialValueText(special);
  return spin;
}

QString gflops(double flops) { return QString::number(flops / 1e9, 'f', flops < 1e9 ? 3 : 2) + " GFLOP"; }

// The first local folder among dragged URLs, or empty.
QString droppedDirectory(const QMimeData* mime) {
  if (!mime || !mime->hasUrls()) return {};
  for (const QUrl& url : mime->urls()) {
    if (url.isLocalFile() && QFileInfo(url.toLocalFile()).isDir()) return url.toLocalFile();
  }
  return {};
}

// New sizes keep the project's attention choice (model.attention, model.attention_block).
nlohmann::json withAttentionOf(const nlohmann::json& old_model, nlohmann::json sizes) {
  if (!old_model.is_object()) return sizes;
  for (const char* key : {"attention", "attention_block"}) {
    if (old_model.contains(key)) sizes[key] = old_model[key];
  }
  return sizes;
}

}  // namespace

ModelPickerView::ModelPickerView(ProjectDocument* document, QWidget* parent) : QWidget(parent), document_(document) {
  auto* layout = new QHBoxLayout(this);
  setAcceptDrops(true);
  // Read the project's Hugging Face directory before the size editors refresh: they show its
  // config.json's sizes for the keys the project leaves out (slots run in connection order).
  hf_panel_ = new HfModelPanel(this);
  connect(document_, &ProjectDocument::changed, this, &ModelPickerView::syncHfModel);
  connect(hf_panel_, &HfModelPanel::useTokenizer, document_,
          [this](const QString& dir) { document_->setValue("/data/tokenizer", dir.toStdString()); });
  syncHfModel();

  // Left: the zoo.
  auto* zoo_box = new QGroupBox(tr("Model zoo"), this);
  auto* zoo_layout = new QVBoxLayout(zoo_box);
  presets_ = new QListWidget(zoo_box);
  presets_->setObjectName(QStringLiteral("presetList"));
  QString family;
  for (const ModelPreset& preset : modelPresets()) {
    if (preset.family != family) {
      family = preset.family;
      auto* header = new QListWidgetItem(family == "Tiny" ? tr("For this machine") : family + tr("-sized"), presets_);
      header->setFlags(Qt::NoItemFlags);
      QFont bold = header->font();
      bold.setBold(true);
      header->setFont(bold);
    }
    auto* item = new QListWidgetItem(QStringLiteral("   ") + preset.name, presets_);
    item->setData(Qt::UserRole, static_cast<int>(&preset - modelPresets().data()));
    item->setToolTip(preset.description);
  }
  auto* custom = new QListWidgetItem(tr("Custom sizes (edit on the right)"), presets_);
  custom->setFlags(Qt::NoItemFlags);
  custom->setData(Qt::UserRole, -1);
  preset_description_ = new QLabel(zoo_box);
  preset_description_->setWordWrap(true);
  preset_description_->setObjectName(QStringLiteral("hint"));
  auto* open_hf = new QPushButton(tr("Open Hugging Face model…"), zoo_box);
  open_hf->setObjectName(QStringLiteral("openHfModel"));
  open_hf->setToolTip(tr("A GPT-2, LLaMA or Mistral directory: config.json and safetensors weights (or drop the folder here)"));
  auto* import = new QPushButton(tr("Import Hugging Face config.json…"), zoo_box);
  import->setToolTip(tr("Read only the sizes of a GPT-2, LLaMA or Mistral config.json"));
  zoo_layout->addWidget(presets_, 1);
  zoo_layout->addWidget(preset_description_);
  zoo_layout->addWidget(open_hf);
  zoo_layout->addWidget(import);
  auto* left = new QVBoxLayout;
  left->addWidget(zoo_box, 1);
  left->addWidget(hf_panel_);
  layout->addLayout(left, 2);
  fields_["model.hf_pretrained"] = hf_panel_->fact(QStringLiteral("directory"));

  // Middle: the sizes.
  auto* sizes_box = new QGroupBox(tr("Sizes"), this);
  auto* form = new QFormLayout(sizes_box);
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  auto* arch = new QComboBox;
  arch->addItem(tr("GPT (LayerNorm, GELU MLP, learned positions)"), "gpt");
  arch->addItem(tr("LLaMA (RMSNorm, SwiGLU, rotary)"), "llama");
  bindComboOrElse(arch, document_, "/model/arch", sizeFallback("arch", "gpt"));
  addSizeField(form, tr("Architecture"), "model.arch", arch);
  auto* layers = sizeSpin(1, 1000);
  bindSpinOrElse(layers, document_, "/model/n_layer", sizeFallback("n_layer", 2));
  addSizeField(form, tr("Layers"), "model.n_layer", layers);
  auto* d_model = sizeSpin(1, 65536);
  d_model->setSingleStep(64);
  bindSpinOrElse(d_model, document_, "/model/d_model", sizeFallback("d_model", 64));
  addSizeField(form, tr("Hidden size (d_model)"), "model.d_model", d_model);
  auto* heads = sizeSpin(1, 1024);
  bindSpinOrElse(heads, document_, "/model/n_head", sizeFallback("n_head", 4));
  addSizeField(form, tr("Attention heads"), "model.n_head", heads);
  auto* kv_heads = sizeSpin(-1, 1024, tr("same as heads"));
  bindSpinOrElse(kv_heads, document_, "/model/n_kv_head", sizeFallback("n_kv_head", -1));
  addSizeField(form, tr("Key/value heads (GQA)"), "model.n_kv_head", kv_heads);
  auto* d_ff = sizeSpin(-1, 262144, tr("family default"));
  d_ff->setSingleStep(256);
  bindSpinOrElse(d_ff, document_, "/model/d_ff", sizeFallback("d_ff", -1));
  addSizeField(form, tr("MLP width (d_ff)"), "model.d_ff", d_ff);
  auto* seq = sizeSpin(2, 1 << 20);
  seq->setSingleStep(128);
  bindSpinOrElse(seq, document_, "/model/seq_len", sizeFallback("seq_len", 64));
  addSizeField(form, tr("Context length (tokens)"), "model.seq_len", seq);
  auto* vocab = sizeSpin(2, 1 << 22);
  bindSpinOrElse(vocab, document_, "/model/vocab_size", sizeFallback("vocab_size", 256));
  addSizeField(form, tr("Vocabulary"), "model.vocab_size", vocab);
  // How attention is computed, not a size: kept when a preset or a config.json replaces the sizes.
  auto* attention = new QComboBox;
  attention->addItem(tr("auto — blockwise when the context spans more than one block"), "auto");
  attention->addItem(tr("blockwise — online softmax, no s×s scores kept"), "blockwise");
  attention->addItem(tr("dense — materialised s×s scores"), "dense");
  attention->setToolTip(tr("Blockwise keeps a log-sum-exp per token and head for backward instead of the scores: "
                           "activation memory linear in the context length"));
  bindCombo(attention, document_, "/model/attention", "auto");
  addSizeField(form, tr("Attention"), "model.attention", attention);
  auto* block = sizeSpin(1, 1 << 20);
  block->setSingleStep(64);
  block->setSuffix(tr(" tokens"));
  block->setToolTip(tr("Query and key block length of the blockwise attention"));
  bindSpin(block, document_, "/model/attention_block", 128);
  addSizeField(form, tr("Attention block"), "model.attention_block", block);
  auto refresh_block = [this, block] {
    block->setEnabled(document_->value("/model/attention", nlohmann::json("auto")) != "dense");
  };
  refresh_block();
  connect(document_, &ProjectDocument::changed, block, refresh_block);
  auto* tie = new QCheckBox(tr("share input embedding and output head"));
  auto refresh_tie = [this, tie] {
    const QSignalBlocker block(tie);
    const nlohmann::json value = document_->value("/model/tie_embeddings");
    const bool family_default = document_->value("/model/arch", sizeFallback("arch", "gpt")()) == "gpt";
    tie->setChecked(value.is_boolean() ? value.get<bool>() : hf_model_ ? hf_model_->config.tie_embeddings : family_default);
  };
  refresh_tie();
  connect(document_, &ProjectDocument::changed, tie, refresh_tie);
  connect(tie, &QCheckBox::toggled, document_, [this](bool on) { document_->setValue("/model/tie_embeddings", on); });
  addSizeField(form, tr("Tied embeddings"), "model.tie_embeddings", tie);
  sizes_hint_ = new QLabel(tr("Sizes from the Hugging Face model's config.json. A size set here overrides it; "
                               "the weights must still fit."),
                            sizes_box);
  sizes_hint_->setObjectName(QStringLiteral("hint"));
  sizes_hint_->setWordWrap(true);
  form->insertRow(0, sizes_hint_);
  error_ = new QLabel(sizes_box);
  error_->setObjectName(QStringLiteral("fieldError"));
  error_->setWordWrap(true);
  form->addRow(error_);
  layout->addWidget(sizes_box, 3);

  // Right: what these sizes cost.
  auto* cost_box = new QGroupBox(tr("Size and compute"), this);
  auto* cost = new QVBoxLayout(cost_box);
  parameters_ = new QLabel(cost_box);
  parameters_->setObjectName(QStringLiteral("bigFigure"));
  flops_ = new QLabel(cost_box);
  flops_->setWordWrap(true);
  breakdown_ = new QTableWidget(0, 2, cost_box);
  breakdown_->setHorizontalHeaderLabels({tr("part"), tr("parameters")});
  breakdown_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
  breakdown_->horizontalHeader()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
  breakdown_->verticalHeader()->setVisible(false);
  breakdown_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  breakdown_->setSelectionMode(QAbstractItemView::NoSelection);
  cost->addWidget(parameters_);
  cost->addWidget(flops_);
  cost->addWidget(breakdown_, 1);
  layout->addWidget(cost_box, 3);

  connect(presets_, &QListWidget::itemClicked, this, [this](QListWidgetItem* item) {
    const int index = item->data(Qt::UserRole).toInt();
    if (item->flags().testFlag(Qt::ItemIsEnabled) && index >= 0) choosePreset(index);
  });
  connect(open_hf, &QPushButton::clicked, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open a Hugging Face model directory"), document_->baseDir());
    if (!dir.isEmpty()) openHfModel(dir);
  });
  connect(import, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, tr("Import Hugging Face config.json"), document_->baseDir(),
                                                      tr("Hugging Face config (*.json)"));
    if (path.isEmpty()) return;
    try {
      importHfConfig(path);
    } catch (const std::exception& error) {
      QMessageBox::warning(this, tr("Import failed"), QString::fromStdString(error.what()));
    }
  });
  connect(document_, &ProjectDocument::changed, this, &ModelPickerView::syncPresetSelection);
  syncPresetSelection();
  sizes_hint_->setVisible(hf_model_.has_value());
}

FallbackValue ModelPickerView::sizeFallback(const std::string& key, nlohmann::json fallback) const {
  return [this, key, fallback] {
    if (!hf_model_) return fallback;
    const nlohmann::json sizes = modelJson(hf_model_->config);
    return sizes.value(key, fallback);
  };
}

void ModelPickerView::syncHfModel() {
  const nlohmann::json given = document_->value("/model/hf_pretrained");
  const QString dir = given.is_string()
                          ? QDir::cleanPath(QDir(document_->baseDir()).absoluteFilePath(QString::fromStdString(given.get<std::string>())))
                          : QString();
  if (dir != hf_dir_) {
    hf_dir_ = dir;
    hf_model_.reset();
    hf_panel_->showError({});
    hf_panel_->clearSummary();
    if (!dir.isEmpty()) {
      try {
        hf_model_ = readHfModelSummary(dir.toStdString());
        hf_panel_->showSummary(*hf_model_);
      } catch (const std::exception& error) {
        hf_panel_->showError(QString::fromStdString(error.what()));
      }
    }
  }
  // The tokenizer can become data.tokenizer where this engine has the key.
  const bool has_tokenizer = hf_model_ && !hf_model_->tokenizer_files.empty();
  hf_panel_->offerTokenizer(has_tokenizer && engineHasDataTokenizer() &&
                            document_->value("/data/tokenizer") != nlohmann::json(hf_model_->dir));
  if (sizes_hint_) sizes_hint_->setVisible(hf_model_.has_value());
}

bool ModelPickerView::openHfModel(const QString& dir) {
  HfModelSummary summary;
  try {
    summary = readHfModelSummary(dir.toStdString());
  } catch (const std::exception& error) {
    hf_panel_->showError(QString::fromStdString(error.what()));
    emit message(tr("Not opened: %1").arg(dir));
    return false;
  }
  // Shown now (the directory may have changed on disk since it was last read); the edit below
  // then finds it already read.
  hf_dir_ = QString::fromStdString(summary.dir);
  hf_model_ = summary;
  hf_panel_->showError({});
  hf_panel_->showSummary(summary);
  document_->edit(tr("Open %1").arg(hf_dir_),
                  [&](nlohmann::json& json) {
                    json["model"] = withAttentionOf(json.value("model", nlohmann::json::object()),
                                                    {{"hf_pretrained", summary.dir}});
                  });
  syncHfModel();
  emit message(tr("Hugging Face model: %1, %2 parameters").arg(hf_dir_, humanCount(double(summary.parameters))));
  return true;
}

void ModelPickerView::dragEnterEvent(QDragEnterEvent* event) {
  if (!droppedDirectory(event->mimeData()).isEmpty()) event->acceptProposedAction();
}

void ModelPickerView::dropEvent(QDropEvent* event) {
  const QString dir = droppedDirectory(event->mimeData());
  if (dir.isEmpty()) return;
  event->acceptProposedAction();
  openHfModel(dir);
}

void ModelPickerView::addSizeField(QFormLayout* form, const QString& label, const std::string& field, QWidget* editor) {
  editor->setObjectName(QString::fromStdString(field));
  form->addRow(label, editor);
  fields_[field] = editor;
}

QWidget* ModelPickerView::fieldWidget(const std::string& field) const { return findField(fields_, field); }

void ModelPickerView::choosePreset(int index) {
  const ModelPreset& preset = modelPresets().at(index);
  hf_panel_->showError({});
  document_->edit(tr("Choose %1").arg(preset.name), [&](nlohmann::json& json) {
    json["model"] = withAttentionOf(json.value("model", nlohmann::json::object()), modelJson(preset.config));
  });
  emit message(tr("Model: %1").arg(preset.name));
}

void ModelPickerView::importHfConfig(const QString& path) {
  const ModelConfig config = modelConfigFromHfFile(path.toStdString());
  document_->edit(tr("Import %1").arg(path), [&](nlohmann::json& json) {
    json["model"] = withAttentionOf(json.value("model", nlohmann::json::object()), modelJson(config));
  });
  emit message(tr("Imported the sizes of %1").arg(path));
}

void ModelPickerView::syncPresetSelection() {
  const QSignalBlocker block(presets_);
  int preset = -1;
  try {
    // Pretrained weights are not a preset, whatever their sizes.
    if (hf_dir_.isEmpty()) preset = presetIndexOf(projectFromJson(document_->json(), document_->baseDir().toStdString()).model);
  } catch (const std::exception&) {
    preset = -1;
  }
  presets_->clearSelection();
  for (int row = 0; row < presets_->count(); ++row) {
    QListWidgetItem* item = presets_->item(row);
    if (item->flags().testFlag(Qt::ItemIsEnabled) && item->data(Qt::UserRole).toInt() == preset && preset >= 0) {
      item->setSelected(true);
      presets_->setCurrentItem(item);
    }
  }
  preset_description_->setText(preset >= 0          ? modelPresets()[preset].description
                               : hf_dir_.isEmpty() ? tr("Custom sizes.")
                                                   : tr("Pretrained weights (model.hf_pretrained)."));
}

void ModelPickerView::showAnalysis(const AnalysisPtr& analysis) {
  // Field marks: only model.* messages belong to this view.
  const std::string bad_field = analysis && analysis->error ? analysis->error->field : std::string();
  const QString message = analysis && analysis->error ? QString::fromStdString(analysis->error->message) : QString();
  markOnly(fields_, bad_field, message);
  const bool model_error = bad_field.rfind("model", 0) == 0;
  error_->setText(model_error ? message : QString());
  error_->setVisible(model_error);

  if (!analysis || !analysis->model) {
    if (model_error) parameters_->setText(tr("—"));
    return;
  }
  const ModelDescription& m = *analysis->model;
  const ParameterCounts counts = parameterCounts(m);
  const FlopsPerToken& f = analysis->flops;
  parameters_->setText(tr("%1 parameters").arg(humanCount(double(analysis->parameter_count))));
  parameters_->setToolTip(QLocale().toString(static_cast<qlonglong>(analysis->parameter_count)));
  flops_->setText(tr("<b>%1 per token</b> forward + backward (%2 forward; attention scores %3)<br>"
                     "Weights: %4 in fp32, %5 in bf16 · training state ≈ %6 (fp32 AdamW, 16 bytes per parameter)")
                      .arg(gflops(f.model()), gflops(f.forward), gflops(f.attention_core))
                      .arg(humanBytes(4.0 * analysis->parameter_count), humanBytes(2.0 * analysis->parameter_count),
                           humanBytes(16.0 * analysis->parameter_count)));
  const std::vector<std::pair<QString, double>> rows = {
      {tr("token embedding"), double(counts.token_embedding)},
      {tr("position embedding"), double(counts.position_embedding)},
      {tr("attention (%1 layers)").arg(m.layers), double(counts.attention) * m.layers},
      {tr("MLP (%1 layers)").arg(m.layers), double(counts.mlp) * m.layers},
      {tr("norms"), double(counts.norms) * m.layers + double(counts.final_norm)},
      {tr("output head"), double(counts.head)},
  };
  breakdown_->setRowCount(static_cast<int>(rows.size()));
  for (int r = 0; r < static_cast<int>(rows.size()); ++r) {
    breakdown_->setItem(r, 0, new QTableWidgetItem(rows[r].first));
    auto* value = new QTableWidgetItem(rows[r].second > 0 ? humanCount(rows[r].second) : tr("— (tied / none)"));
    value->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    breakdown_->setItem(r, 1, value);
  }
}

}  // namespace behemoth::ui
