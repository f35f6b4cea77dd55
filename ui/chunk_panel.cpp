#include "ui/chunk_panel.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QScrollArea>
#include <QVBoxLayout>

#include <filesystem>

#include "ui/chunk_model.h"
#include "ui/chunk_view.h"
#include "ui/project_analysis.h"

namespace behemoth::ui {

ChunkPanel::ChunkPanel(QWidget* parent) : QWidget(parent) {
  setObjectName(QStringLiteral("chunkPanel"));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 4, 0, 0);
  auto* bar = new QHBoxLayout;
  title_ = new QLabel(tr("ZeRO-3 chunks, measured"), this);
  title_->setObjectName(QStringLiteral("sectionTitle"));
  rank_label_ = new QLabel(tr("Rank"), this);
  ranks_ = new QComboBox(this);
  ranks_->setToolTip(tr("The global rank whose chunk record is drawn"));
  steps_ = new QComboBox(this);
  steps_->setToolTip(tr("The recorded step whose tier copies are drawn (the record keeps the first 20 logged steps and the last)"));
  bar->addWidget(title_, 1);
  bar->addWidget(rank_label_);
  bar->addWidget(ranks_);
  bar->addWidget(new QLabel(tr("Step"), this));
  bar->addWidget(steps_);
  layout->addLayout(bar);
  message_ = new QLabel(this);
  message_->setObjectName(QStringLiteral("hint"));
  message_->setWordWrap(true);
  message_->setVisible(false);
  layout->addWidget(message_);
  auto* scroll = new QScrollArea(this);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  view_ = new ChunkView(scroll);
  scroll->setWidget(view_);
  layout->addWidget(scroll, 1);
  connect(ranks_, qOverload<int>(&QComboBox::activated), this, [this](int index) { showRank(ranks_->itemData(index).toInt()); });
  connect(steps_, qOverload<int>(&QComboBox::activated), this, [this](int index) { view_->setStep(steps_->itemData(index).toInt()); });
}

void ChunkPanel::clear() {
  out_dir_.clear();
  tensors_.clear();
  has_record_ = false;
  ranks_->clear();
  steps_->clear();
  message_->setVisible(false);
  view_->setChart({});
}

bool ChunkPanel::showRun(const QString& out_dir, const nlohmann::json& project) {
  clear();
  std::error_code error;
  if (out_dir.isEmpty() || !std::filesystem::is_directory(std::filesystem::path(out_dir.toStdString()) / "chunks", error)) {
    return false;
  }
  has_record_ = true;
  out_dir_ = out_dir;
  if (!project.is_null() && !project.empty()) {
    // Only the model matters here: a plan this machine would now refuse still names its tensors.
    const ProjectAnalysis analysis = analyzeProject(project, std::string());
    if (analysis.model && analysis.project) tensors_ = plannedTensors(*analysis.model, analysis.project->plan.tp);
  }
  const std::vector<int> ranks = recordedChunkRanks(out_dir.toStdString());
  for (int rank : ranks) ranks_->addItem(QString::number(rank), rank);
  // One rank's record needs no selector.
  ranks_->setVisible(ranks.size() > 1);
  rank_label_->setVisible(ranks.size() > 1);
  if (ranks.empty()) {
    message_->setText(tr("%1 holds no rank-NNNNN.json record.").arg(QString::fromStdString(
        (std::filesystem::path(out_dir.toStdString()) / "chunks").string())));
    message_->setVisible(true);
    return true;
  }
  showRank(ranks.front());
  return true;
}

void ChunkPanel::showRank(int rank) {
  message_->setVisible(false);
  steps_->clear();
  const int index = ranks_->findData(rank);
  if (index >= 0) ranks_->setCurrentIndex(index);
  ChunkChart chart;
  try {
    chart = readChunkRecord(chunkRecordPath(out_dir_.toStdString(), rank));
  } catch (const std::exception& failure) {
    message_->setText(QString::fromStdString(failure.what()));
    message_->setVisible(true);
    view_->setChart({});
    return;
  }
  applyTensorNumels(chart, tensors_);
  for (const ChunkStep& step : chart.steps) steps_->addItem(QString::number(step.step), step.step);
  view_->setChart(std::move(chart));
  if (steps_->count() > 0) steps_->setCurrentIndex(steps_->findData(view_->step()));
}

}  // namespace behemoth::ui
