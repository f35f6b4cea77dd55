#include "ui/auto_plan_dialog.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QHeaderView>
#include <QLabel>
#include <QMessageBox>
#include <QObject>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "ui/model_zoo.h"
#include "ui/project_document.h"

namespace behemoth::ui {
namespace {

// The ranking reason, and for a plan this build cannot run, why not.
QString whyText(const RankedPlan& plan) {
  if (plan.runnable) return QString::fromStdString(plan.reason);
  return QObject::tr("cannot run in this build: %1").arg(QString::fromStdString(plan.not_runnable));
}

}  // namespace

AutoPlanDialog::AutoPlanDialog(ProjectDocument* document, QWidget* parent) : QDialog(parent), document_(document) {
  setWindowTitle(tr("Auto plan"));
  resize(980, 420);
  auto* layout = new QVBoxLayout(this);
  runnable_only_ = new QCheckBox(tr("Only plans this build can run"), this);
  runnable_only_->setChecked(false);
  layout->addWidget(runnable_only_);
  status_ = new QLabel(this);
  status_->setWordWrap(true);
  layout->addWidget(status_);
  table_ = new QTableWidget(0, 6, this);
  table_->setHorizontalHeaderLabels({tr("plan"), tr("tokens/s"), tr("MFU"), tr("step"), tr("peak memory"), tr("why")});
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->verticalHeader()->setVisible(false);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  layout->addWidget(table_, 1);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
  apply_ = buttons->addButton(tr("Apply to project"), QDialogButtonBox::AcceptRole);
  apply_->setEnabled(false);
  layout->addWidget(buttons);

  connect(runnable_only_, &QCheckBox::toggled, this, &AutoPlanDialog::search);
  connect(&watcher_, &QFutureWatcher<AutoPlanOutcome>::finished, this, &AutoPlanDialog::showOutcome);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  connect(apply_, &QPushButton::clicked, this, &AutoPlanDialog::applySelected);
  connect(table_, &QTableWidget::itemSelectionChanged, this,
          [this] { apply_->setEnabled(!table_->selectedItems().isEmpty() && outcome_.result.anythingFits()); });
  connect(table_, &QTableWidget::cellDoubleClicked, this, [this] { applySelected(); });
}

AutoPlanDialog::~AutoPlanDialog() { watcher_.waitForFinished(); }

void AutoPlanDialog::search() {
  if (watcher_.isRunning()) return;
  status_->setText(tr("Searching every layout of the devices…"));
  table_->setRowCount(0);
  apply_->setEnabled(false);
  watcher_.setFuture(QtConcurrent::run(runAutoPlan, document_->json(), document_->baseDir().toStdString(),
                                       runnable_only_->isChecked()));
}

void AutoPlanDialog::showOutcome() {
  outcome_ = watcher_.result();
  if (!outcome_.error.isEmpty()) {
    status_->setText(tr("<b>Cannot search:</b> %1").arg(outcome_.error.toHtmlEscaped()));
    return;
  }
  const SearchResult& r = outcome_.result;
  status_->setText(tr("%1 — %2 layouts evaluated, %3 fit, in %4 s.")
                       .arg(QString::fromStdString(r.message).toHtmlEscaped())
                       .arg(r.evaluated)
                       .arg(r.fitting)
                       .arg(r.seconds, 0, 'f', 2));
  std::vector<RankedPlan> shown = r.best;
  if (shown.empty() && r.closest) shown.push_back(*r.closest);
  table_->setRowCount(static_cast<int>(shown.size()));
  for (int row = 0; row < static_cast<int>(shown.size()); ++row) {
    const PlanEstimate& e = shown[row].estimate;
    const QStringList cells = {QString::fromStdString(shown[row].summary), humanCount(e.time.tokens_per_s),
                               QString::number(e.time.mfu * 100, 'f', 1) + " %",
                               QString::number(e.time.step_s * 1e3, 'f', 1) + " ms",
                               humanBytes(double(e.memory.peakDeviceBytes())), whyText(shown[row])};
    for (int column = 0; column < cells.size(); ++column) {
      auto* item = new QTableWidgetItem(cells[column]);
      if (column >= 1 && column <= 4) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
      table_->setItem(row, column, item);
    }
  }
  if (r.anythingFits()) table_->selectRow(0);
}

void AutoPlanDialog::applySelected() {
  const int row = table_->currentRow();
  if (row < 0 || row >= static_cast<int>(outcome_.result.best.size())) return;
  const RankedPlan& plan = outcome_.result.best[row];
  QStringList notes;
  document_->edit(tr("Auto plan %1").arg(QString::fromStdString(plan.summary)),
                  [&](nlohmann::json& json) { notes = applyLayout(json, plan.estimate.layout); });
  QString summary = tr("Applied %1").arg(QString::fromStdString(plan.summary));
  if (!notes.isEmpty()) summary += tr(" (not in the project file: %1)").arg(notes.join(", "));
  emit applied(summary);
  accept();
}

}  // namespace behemoth::ui
