#include "ui/hf_model_panel.h"

#include <QFormLayout>
#include <QLabel>
#include <QLocale>
#include <QPushButton>
#include <QVBoxLayout>

#include "ui/model_zoo.h"

namespace behemoth::ui {
namespace {

// Exact counts with thousands separators, the same on every machine.
QString exact(std::int64_t value) { return QLocale(QLocale::English).toString(static_cast<qlonglong>(value)); }

// "1 layer", "2 layers" (no translations are loaded, so %n would not pluralise).
QString counted(int count, const char* one, const char* many) {
  return QString::number(count) + QLatin1Char(' ') + QObject::tr(count == 1 ? one : many);
}

QString sizesText(const ModelConfig& c) {
  QString heads = counted(c.n_head, "head", "heads");
  if (c.kvHeads() != c.n_head) heads += QObject::tr(", %1 key/value").arg(c.kvHeads());
  return QObject::tr("%1 · %2 · width %3 · MLP %4 · context %5 · vocabulary %6")
      .arg(counted(c.n_layer, "layer", "layers"))
      .arg(heads)
      .arg(c.d_model)
      .arg(c.ffnHidden())
      .arg(c.seq_len)
      .arg(c.vocab_size);
}

}  // namespace

HfModelPanel::HfModelPanel(QWidget* parent) : QGroupBox(tr("Hugging Face model"), parent) {
  auto* layout = new QVBoxLayout(this);
  form_ = new QFormLayout;
  form_->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  const std::vector<std::pair<QString, QString>> rows = {
      {"directory", tr("Directory")}, {"architecture", tr("Architecture")}, {"sizes", tr("Sizes")},
      {"parameters", tr("Parameters")}, {"dtype", tr("Stored as")}, {"weights", tr("Weights")},
      {"shards", tr("Files")}, {"tokenizer", tr("Tokenizer")}};
  for (const auto& [name, label] : rows) {
    auto* value = new QLabel(this);
    value->setWordWrap(true);
    value->setTextInteractionFlags(Qt::TextSelectableByMouse);
    value->setObjectName(QStringLiteral("hf_") + name);
    form_->addRow(label, value);
    facts_[name] = value;
  }
  use_tokenizer_ = new QPushButton(tr("Use its tokenizer (data.tokenizer)"), this);
  use_tokenizer_->setToolTip(tr("Tokenize the corpus with this directory's tokenizer files"));
  error_ = new QLabel(this);
  error_->setObjectName(QStringLiteral("fieldError"));
  error_->setWordWrap(true);
  error_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addLayout(form_);
  layout->addWidget(use_tokenizer_);
  layout->addWidget(error_);
  connect(use_tokenizer_, &QPushButton::clicked, this, [this] { emit useTokenizer(directory_); });
  refreshVisibility();
}

QLabel* HfModelPanel::fact(const QString& name) const {
  const auto found = facts_.find(name);
  return found == facts_.end() ? nullptr : found->second;
}

void HfModelPanel::showSummary(const HfModelSummary& s) {
  directory_ = QString::fromStdString(s.dir);
  const QString engine_arch = s.config.arch == Arch::gpt ? tr("GPT") : tr("LLaMA");
  QString architecture = QString::fromStdString(s.model_type);
  if (!s.architecture.empty()) architecture += QStringLiteral(" · ") + QString::fromStdString(s.architecture);
  facts_["directory"]->setText(directory_);
  facts_["architecture"]->setText(tr("%1 (the engine's %2)").arg(architecture, engine_arch));
  facts_["sizes"]->setText(sizesText(s.config));
  facts_["parameters"]->setText(tr("%1 (%2)").arg(humanCount(double(s.parameters)), exact(s.parameters)));
  facts_["dtype"]->setText(QString::fromStdString(s.dtype));
  facts_["weights"]->setText(tr("%1 (%2 bytes)").arg(humanBytes(double(s.weight_bytes)), exact(s.weight_bytes)));
  facts_["shards"]->setText(s.shards == 1 ? tr("1 safetensors file")
                                          : tr("%1 safetensors shards, with model.safetensors.index.json").arg(s.shards));
  QStringList tokenizer;
  for (const std::string& file : s.tokenizer_files) tokenizer << QString::fromStdString(file);
  facts_["tokenizer"]->setText(tokenizer.isEmpty() ? tr("none: byte tokenizer") : tokenizer.join(QStringLiteral(", ")));
  has_summary_ = true;
  refreshVisibility();
}

void HfModelPanel::clearSummary() {
  directory_.clear();
  for (const auto& [name, label] : facts_) label->clear();
  has_summary_ = false;
  refreshVisibility();
}

void HfModelPanel::showError(const QString& message) {
  error_->setText(message);
  refreshVisibility();
}

void HfModelPanel::offerTokenizer(bool offered) {
  tokenizer_offered_ = offered;
  refreshVisibility();
}

void HfModelPanel::refreshVisibility() {
  for (int row = 0; row < form_->rowCount(); ++row) form_->setRowVisible(row, has_summary_);
  use_tokenizer_->setVisible(has_summary_ && tokenizer_offered_);
  error_->setVisible(!error_->text().isEmpty());
  setVisible(has_summary_ || !error_->text().isEmpty());
}

}  // namespace behemoth::ui
