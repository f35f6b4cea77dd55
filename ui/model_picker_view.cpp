#include "ui/model_picker_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

#include "backend/model/hf_config.h"
#include "memory/model_description.h"
#include "ui/field_binding.h"
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

}  // namespace

ModelPickerView::ModelPickerView(ProjectDocument* document, QWidget* parent) : QWidget(parent), document_(document) {
  auto* layout = new QHBoxLayout(this);

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
  auto* import = new QPushButton(tr("Import Hugging Face config.json…"), zoo_box);
  import->setToolTip(tr("Read the sizes of a GPT-2, LLaMA or Mistral config.json"));
  zoo_layout->addWidget(presets_, 1);
  zoo_layout->addWidget(preset_description_);
  zoo_layout->addWidget(import);
  layout->addWidget(zoo_box, 2);

  // Middle: the sizes.
  auto* sizes_box = new QGroupBox(tr("Sizes"), this);
  auto* form = new QFormLayout(sizes_box);
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  auto* arch = new QComboBox;
  arch->addItem(tr("GPT (LayerNorm, GELU MLP, learned positions)"), "gpt");
  arch->addItem(tr("LLaMA (RMSNorm, SwiGLU, rotary)"), "llama");
  bindCombo(arch, document_, "/model/arch", "gpt");
  addSizeField(form, tr("Architecture"), "model.arch", arch);
  auto* layers = sizeSpin(1, 1000);
  bindSpin(layers, document_, "/model/n_layer", 2);
  addSizeField(form, tr("Layers"), "model.n_layer", layers);
  auto* d_model = sizeSpin(1, 65536);
  d_model->setSingleStep(64);
  bindSpin(d_model, document_, "/model/d_model", 64);
  addSizeField(form, tr("Hidden size (d_model)"), "model.d_model", d_model);
  auto* heads = sizeSpin(1, 1024);
  bindSpin(heads, document_, "/model/n_head", 4);
  addSizeField(form, tr("Attention heads"), "model.n_head", heads);
  auto* kv_heads = sizeSpin(-1, 1024, tr("same as heads"));
  bindSpin(kv_heads, document_, "/model/n_kv_head", -1);
  addSizeField(form, tr("Key/value heads (GQA)"), "model.n_kv_head", kv_heads);
  auto* d_ff = sizeSpin(-1, 262144, tr("family default"));
  d_ff->setSingleStep(256);
  bindSpin(d_ff, document_, "/model/d_ff", -1);
  addSizeField(form, tr("MLP width (d_ff)"), "model.d_ff", d_ff);
  auto* seq = sizeSpin(2, 1 << 20);
  seq->setSingleStep(128);
  bindSpin(seq, document_, "/model/seq_len", 64);
  addSizeField(form, tr("Context length (tokens)"), "model.seq_len", seq);
  auto* vocab = sizeSpin(2, 1 << 22);
  bindSpin(vocab, document_, "/model/vocab_size", 256);
  addSizeField(form, tr("Vocabulary"), "model.vocab_size", vocab);
  auto* tie = new QCheckBox(tr("share input embedding and output head"));
  auto refresh_tie = [this, tie] {
    const QSignalBlocker block(tie);
    const nlohmann::json value = document_->value("/model/tie_embeddings");
    tie->setChecked(value.is_boolean() ? value.get<bool>() : document_->value("/model/arch", "gpt") == "gpt");
  };
  refresh_tie();
  connect(document_, &ProjectDocument::changed, tie, refresh_tie);
  connect(tie, &QCheckBox::toggled, document_, [this](bool on) { document_->setValue("/model/tie_embeddings", on); });
  addSizeField(form, tr("Tied embeddings"), "model.tie_embeddings", tie);
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
}

void ModelPickerView::addSizeField(QFormLayout* form, const QString& label, const std::string& field, QWidget* editor) {
  editor->setObjectName(QString::fromStdString(field));
  form->addRow(label, editor);
  fields_[field] = editor;
}

QWidget* ModelPickerView::fieldWidget(const std::string& field) const { return findField(fields_, field); }

void ModelPickerView::choosePreset(int index) {
  const ModelPreset& preset = modelPresets().at(index);
  document_->edit(tr("Choose %1").arg(preset.name), [&](nlohmann::json& json) {
    json["model"] = modelJson(preset.config);
  });
  emit message(tr("Model: %1").arg(preset.name));
}

void ModelPickerView::importHfConfig(const QString& path) {
  const ModelConfig config = modelConfigFromHfFile(path.toStdString());
  document_->edit(tr("Import %1").arg(path), [&](nlohmann::json& json) { json["model"] = modelJson(config); });
  emit message(tr("Imported the sizes of %1").arg(path));
}

void ModelPickerView::syncPresetSelection() {
  const QSignalBlocker block(presets_);
  int preset = -1;
  try {
    preset = presetIndexOf(projectFromJson(document_->json(), document_->baseDir().toStdString()).model);
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
  preset_description_->setText(preset >= 0 ? modelPresets()[preset].description : tr("Custom sizes."));
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
