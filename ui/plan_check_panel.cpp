#include "ui/plan_check_panel.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <cmath>

#include "ui/model_zoo.h"

namespace behemoth::ui {
namespace {

QString figureText(const PlanFigure& figure, const std::optional<double>& value) {
  if (!value) return QStringLiteral("–");
  if (figure.is_bytes) return humanBytes(*value);
  return QStringLiteral("%1 ms").arg(*value * 1e3, 0, 'f', 1);
}

// Green within 10 %, amber within 30 %, red beyond: how far to trust the estimate.
QColor errorColor(double error) {
  const double size = std::abs(error);
  if (size <= 0.10) return QColor(0x00, 0x9E, 0x73);
  if (size <= 0.30) return QColor(0xE6, 0x9F, 0x00);
  return QColor(0xD5, 0x5E, 0x00);
}

}  // namespace

PlanCheckPanel::PlanCheckPanel(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  auto* top = new QHBoxLayout;
  top->addWidget(new QLabel(tr("Run"), this));
  chooser_ = new QComboBox(this);
  chooser_->setObjectName(QStringLiteral("planCheckRun"));
  top->addWidget(chooser_, 1);
  layout->addLayout(top);
  status_ = new QLabel(this);
  status_->setWordWrap(true);
  layout->addWidget(status_);
  table_ = new QTableWidget(this);
  table_->setObjectName(QStringLiteral("planCheckTable"));
  table_->setColumnCount(6);
  table_->setHorizontalHeaderLabels({tr("rank"), tr("mesh"), tr("figure"), tr("planner"), tr("measured"), tr("error")});
  table_->verticalHeader()->setVisible(false);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setAlternatingRowColors(true);
  table_->horizontalHeader()->setStretchLastSection(true);
  layout->addWidget(table_, 1);
  connect(chooser_, qOverload<int>(&QComboBox::currentIndexChanged), this, &PlanCheckPanel::showRun);
  connect(&watcher_, &QFutureWatcher<Outcome>::finished, this, &PlanCheckPanel::showOutcome);
}

void PlanCheckPanel::setRuns(std::vector<RunDetails> runs) {
  runs_ = std::move(runs);
  const QSignalBlocker block(chooser_);
  chooser_->clear();
  for (const RunDetails& run : runs_) {
    chooser_->addItem(QStringLiteral("#%1 %2").arg(run.run.id).arg(QString::fromStdString(run.run.name)));
  }
  showRun(0);
}

void PlanCheckPanel::showRun(int index) {
  if (index < 0 || index >= static_cast<int>(runs_.size())) return;
  if (watcher_.isRunning()) {
    pending_ = index;
    return;
  }
  status_->setText(tr("Estimating the run's plan…"));
  table_->setRowCount(0);
  comparison_.reset();
  watcher_.setFuture(QtConcurrent::run([details = runs_[index]] {
    Outcome outcome;
    try {
      outcome.comparison = compareRunWithPlan(details);
    } catch (const std::exception& error) {
      outcome.error = QString::fromUtf8(error.what());
    }
    return outcome;
  }));
}

void PlanCheckPanel::showOutcome() {
  if (pending_ >= 0) {
    const int next = pending_;
    pending_ = -1;
    showRun(next);
    return;
  }
  const Outcome outcome = watcher_.result();
  if (!outcome.comparison) {
    status_->setText(outcome.error);
    return;
  }
  comparison_ = outcome.comparison;
  const RunAgainstPlan& comparison = *comparison_;
  status_->setText(tr("The planner's estimate for this run's recorded plan on %1, beside what the run measured.")
                       .arg(QString::fromStdString(comparison.device)));
  std::vector<std::tuple<QString, QString, const PlanFigure*>> rows;
  for (const RankAgainstPlan& rank : comparison.ranks) {
    for (const PlanFigure& figure : rank.figures) {
      rows.emplace_back(QString::number(rank.rank), QString::fromStdString(rank.position), &figure);
    }
  }
  for (const PlanFigure& figure : comparison.step) rows.emplace_back(tr("every"), tr("step"), &figure);
  table_->setRowCount(static_cast<int>(rows.size()));
  for (int r = 0; r < static_cast<int>(rows.size()); ++r) {
    const auto& [rank, position, figure] = rows[r];
    table_->setItem(r, 0, new QTableWidgetItem(rank));
    table_->setItem(r, 1, new QTableWidgetItem(position));
    table_->setItem(r, 2, new QTableWidgetItem(QString::fromStdString(figure->quantity)));
    table_->setItem(r, 3, new QTableWidgetItem(figureText(*figure, figure->predicted)));
    table_->setItem(r, 4, new QTableWidgetItem(figureText(*figure, figure->measured)));
    const auto error = figure->relativeError();
    auto* cell = new QTableWidgetItem(error ? QStringLiteral("%1%2 %").arg(*error >= 0 ? "+" : "").arg(100 * *error, 0, 'f', 1)
                                            : QStringLiteral("–"));
    if (error) cell->setForeground(errorColor(*error));
    table_->setItem(r, 5, cell);
  }
  table_->resizeColumnsToContents();
}

}  // namespace behemoth::ui
