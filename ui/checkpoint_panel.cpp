#include "ui/checkpoint_panel.h"

#include <QDateTime>
#include <QDir>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include "ui/icons.h"
#include "ui/model_zoo.h"

namespace behemoth::ui {
namespace {

// "12-01 10:00:05" in local time (the file records UTC, ISO 8601; the year would only crowd the
// column, the tooltip has the path).
QString savedText(const std::string& saved_at) {
  const QDateTime time = QDateTime::fromString(QString::fromStdString(saved_at), Qt::ISODate);
  return time.isValid() ? time.toLocalTime().toString(QStringLiteral("MM-dd HH:mm:ss"))
                        : QString::fromStdString(saved_at);
}

QTableWidgetItem* cell(const QString& text, Qt::Alignment alignment = Qt::AlignLeft | Qt::AlignVCenter) {
  auto* item = new QTableWidgetItem(text);
  item->setTextAlignment(alignment);
  return item;
}

}  // namespace

CheckpointPanel::CheckpointPanel(QWidget* parent) : QWidget(parent) {
  auto* box = new QVBoxLayout(this);
  box->setContentsMargins(0, 0, 0, 0);
  title_ = new QLabel(tr("Checkpoints"), this);
  title_->setObjectName(QStringLiteral("sectionTitle"));
  table_ = new QTableWidget(0, column_count, this);
  table_->setObjectName(QStringLiteral("checkpoints"));
  table_->setHorizontalHeaderLabels({tr("Step"), tr("Saved"), tr("Layout"), tr("Size"), QString()});
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->verticalHeader()->setVisible(false);
  table_->setAlternatingRowColors(true);
  table_->setWordWrap(false);
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->horizontalHeader()->setSectionResizeMode(layout, QHeaderView::Stretch);
  hint_ = new QLabel(this);
  hint_->setObjectName(QStringLiteral("hint"));
  hint_->setWordWrap(true);
  hint_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  resume_ = new QPushButton(glyphIcon(Glyph::run, QColor(0x10, 0xB9, 0x81)), tr("Resume"), this);
  resume_->setToolTip(tr("Continue training from the chosen checkpoint with the current project and plan "
                         "(which may differ from the layout that saved it)"));
  auto* bar = new QHBoxLayout;
  bar->addWidget(title_, 1);
  bar->addWidget(resume_);
  box->addLayout(bar);
  box->addWidget(table_, 1);
  box->addWidget(hint_);

  connect(table_, &QTableWidget::itemSelectionChanged, this, &CheckpointPanel::updateButton);
  connect(resume_, &QPushButton::clicked, this, [this] {
    if (const auto chosen = selected()) emit resumeRequested(QString::fromStdString(chosen->dir.string()));
  });
  connect(table_, &QTableWidget::cellDoubleClicked, this, [this](int row, int) {
    if (row >= 0 && row < static_cast<int>(checkpoints_.size())) {
      emit resumeRequested(QString::fromStdString(checkpoints_[row].dir.string()));
    }
  });
  clearRun(tr("Select one run to see its checkpoints."));
}

void CheckpointPanel::clearRun(const QString& hint) {
  checkpoints_.clear();
  table_->setRowCount(0);
  title_->setText(tr("Checkpoints"));
  hint_->setText(hint);
  updateButton();
}

void CheckpointPanel::showRun(const QString& out_dir, const QString& run_label) {
  try {
    checkpoints_ = listCheckpoints(out_dir.toStdString());
  } catch (const std::exception& error) {  // an unreadable folder (permissions): say so, list nothing
    clearRun(tr("Cannot list the checkpoints of %1: %2").arg(run_label, QString::fromStdString(error.what())));
    return;
  }
  table_->setRowCount(static_cast<int>(checkpoints_.size()));
  std::int64_t bytes = 0;
  int latest_row = -1;
  for (int row = 0; row < static_cast<int>(checkpoints_.size()); ++row) {
    const CheckpointInfo& info = checkpoints_[row];
    bytes += info.bytes;
    const QString dir = QString::fromStdString(info.dir.string());
    table_->setItem(row, step, cell(QString::number(info.step), Qt::AlignRight | Qt::AlignVCenter));
    table_->setItem(row, saved, cell(savedText(info.saved_at)));
    table_->setItem(row, layout, cell(QString::fromStdString(info.layout.empty() ? "?" : info.layout)));
    table_->setItem(row, size, cell(humanBytes(double(info.bytes)), Qt::AlignRight | Qt::AlignVCenter));
    table_->setItem(row, latest, cell(info.latest ? tr("latest") : QString()));
    for (int column = 0; column < column_count; ++column) {
      table_->item(row, column)->setToolTip(tr("%1\n%2 ranks, %3").arg(dir).arg(info.world_size).arg(QString::fromStdString(info.precision)));
    }
    if (info.latest) {
      latest_row = row;
      QFont bold = table_->item(row, step)->font();
      bold.setBold(true);
      for (int column = 0; column < column_count; ++column) table_->item(row, column)->setFont(bold);
    }
  }
  title_->setText(tr("Checkpoints of %1").arg(run_label));
  const QString folder = QDir(out_dir).filePath(QStringLiteral("checkpoints"));
  if (checkpoints_.empty()) {
    hint_->setText(QDir(out_dir).exists() ? tr("No checkpoints in %1 (train.checkpoint_every saves them along the way).").arg(folder)
                                          : tr("The run's output folder %1 is not on this machine.").arg(out_dir));
  } else {
    const int count = static_cast<int>(checkpoints_.size());
    hint_->setText((count == 1 ? tr("1 checkpoint") : tr("%1 checkpoints").arg(count)) +
                   tr(", %1 in %2").arg(humanBytes(double(bytes)), folder));
  }
  if (latest_row < 0 && !checkpoints_.empty()) latest_row = static_cast<int>(checkpoints_.size()) - 1;
  if (latest_row >= 0) table_->selectRow(latest_row);
  updateButton();
}

std::optional<CheckpointInfo> CheckpointPanel::selected() const {
  const auto rows = table_->selectionModel()->selectedRows();
  if (rows.isEmpty()) return std::nullopt;
  const int row = rows.front().row();
  if (row < 0 || row >= static_cast<int>(checkpoints_.size())) return std::nullopt;
  return checkpoints_[row];
}

void CheckpointPanel::selectStep(std::int64_t wanted) {
  for (int row = 0; row < static_cast<int>(checkpoints_.size()); ++row) {
    if (checkpoints_[row].step == wanted) table_->selectRow(row);
  }
}

void CheckpointPanel::updateButton() {
  const auto chosen = selected();
  resume_->setEnabled(chosen.has_value());
  resume_->setText(chosen ? tr("Resume from step %1").arg(chosen->step) : tr("Resume"));
}

}  // namespace behemoth::ui
