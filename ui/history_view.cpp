#include "ui/history_view.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QStyle>
#include <QSplitter>
#include <QTableView>
#include <qcustomplot.h>
#include <QVBoxLayout>

#include "backend/history/history_format.h"
#include "ui/chart_style.h"
#include "ui/checkpoint_panel.h"
#include "ui/history_table_model.h"
#include "ui/model_zoo.h"
#include "ui/run_series.h"

namespace behemoth::ui {
namespace {
constexpr int kPreviewPurpose = 3;  // HistoryService::fetch purposes 1 and 2 belong to the window
}  // namespace

HistoryView::HistoryView(HistoryService* service, QWidget* parent)
    : QWidget(parent), service_(service), model_(new HistoryTableModel(this)), proxy_(new QSortFilterProxyModel(this)) {
  auto* layout = new QVBoxLayout(this);
  auto* bar = new QHBoxLayout;
  filter_ = new QLineEdit(this);
  filter_->setPlaceholderText(tr("Filter runs by name, plan, outcome, tags… (Ctrl+F)"));
  filter_->setClearButtonEnabled(true);
  filter_->setObjectName(QStringLiteral("historyFilter"));
  open_ = new QPushButton(tr("Open charts"), this);
  open_->setToolTip(tr("Show the selected run's curves (Enter)"));
  compare_ = new QPushButton(tr("Compare"), this);
  compare_->setToolTip(tr("Overlay the selected runs and list what differs (select two or more)"));
  tag_ = new QPushButton(tr("Tag…"), this);
  delete_ = new QPushButton(style()->standardIcon(QStyle::SP_TrashIcon), tr("Delete"), this);
  auto* reload = new QPushButton(style()->standardIcon(QStyle::SP_BrowserReload), tr("Refresh"), this);
  bar->addWidget(filter_, 1);
  bar->addWidget(open_);
  bar->addWidget(compare_);
  bar->addWidget(tag_);
  bar->addWidget(delete_);
  bar->addWidget(reload);
  layout->addLayout(bar);

  banner_ = new QLabel(this);
  banner_->setObjectName(QStringLiteral("banner"));
  banner_->setProperty("error", true);
  banner_->setWordWrap(true);
  banner_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  banner_->setVisible(false);
  layout->addWidget(banner_);

  proxy_->setSourceModel(model_);
  proxy_->setFilterKeyColumn(-1);
  proxy_->setFilterCaseSensitivity(Qt::CaseInsensitive);
  proxy_->setSortRole(Qt::UserRole);
  table_ = new QTableView(this);
  table_->setModel(proxy_);
  table_->setSortingEnabled(true);
  table_->sortByColumn(HistoryTableModel::id, Qt::DescendingOrder);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::ExtendedSelection);
  table_->setAlternatingRowColors(true);
  table_->verticalHeader()->setVisible(false);
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->horizontalHeader()->setSectionResizeMode(HistoryTableModel::tags, QHeaderView::Stretch);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setWordWrap(false);
  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(table_);
  auto* preview_box = new QWidget(split);
  auto* preview_layout = new QHBoxLayout(preview_box);
  preview_layout->setContentsMargins(0, 6, 0, 0);
  preview_ = new QCustomPlot(preview_box);
  preview_->plotLayout()->insertRow(0);
  preview_->plotLayout()->addElement(0, 0, new QCPTextElement(preview_, tr("Training loss of the selected runs"), QFont(font().family(), 10, QFont::Bold)));
  preview_->xAxis->setLabel(tr("step"));
  preview_->yAxis->setLabel(tr("cross-entropy (nats)"));
  preview_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
  preview_text_ = new QLabel(preview_box);
  preview_text_->setWordWrap(true);
  preview_text_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
  preview_text_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  preview_text_->setMinimumWidth(360);
  preview_text_->setMaximumWidth(460);
  checkpoints_ = new CheckpointPanel(preview_box);
  checkpoints_->setMinimumWidth(360);
  checkpoints_->setMaximumWidth(460);
  auto* side = new QVBoxLayout;
  side->addWidget(preview_text_);
  side->addWidget(checkpoints_, 1);
  preview_layout->addWidget(preview_, 1);
  preview_layout->addLayout(side);
  split->addWidget(preview_box);
  split->setStretchFactor(0, 1);
  split->setStretchFactor(1, 1);
  split->setSizes({360, 420});
  layout->addWidget(split, 1);
  count_ = new QLabel(this);
  count_->setObjectName(QStringLiteral("hint"));
  layout->addWidget(count_);

  connect(filter_, &QLineEdit::textChanged, proxy_, &QSortFilterProxyModel::setFilterFixedString);
  connect(filter_, &QLineEdit::textChanged, this, &HistoryView::updateButtons);
  connect(reload, &QPushButton::clicked, this, &HistoryView::refresh);
  connect(open_, &QPushButton::clicked, this, [this] {
    const auto ids = selectedIds();
    if (!ids.empty()) emit openRequested(ids.front());
  });
  connect(table_, &QTableView::doubleClicked, this, [this](const QModelIndex& index) {
    emit openRequested(model_->run(proxy_->mapToSource(index).row()).id);
  });
  connect(compare_, &QPushButton::clicked, this, [this] { emit compareRequested(selectedIds()); });
  connect(tag_, &QPushButton::clicked, this, &HistoryView::tagSelected);
  connect(delete_, &QPushButton::clicked, this, &HistoryView::deleteSelected);
  connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this, &HistoryView::updateButtons);
  connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this, &HistoryView::requestPreview);
  connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this, &HistoryView::updateCheckpoints);
  connect(checkpoints_, &CheckpointPanel::resumeRequested, this, &HistoryView::resumeRequested);
  connect(service_, &HistoryService::fetched, this, [this](const HistoryDetails& details, int purpose) {
    if (purpose == kPreviewPurpose) showPreview(details);
  });
  connect(service_, &HistoryService::listed, this, &HistoryView::onListed);
  connect(service_, &HistoryService::failed, this, &HistoryView::showError);
  updateButtons();
  showPreview({});
}

void HistoryView::refresh() {
  count_->setText(tr("Loading %1…").arg(service_->path()));
  service_->refresh();
}

void HistoryView::setFilter(const QString& text) { filter_->setText(text); }

void HistoryView::onListed(const HistoryListing& listing) {
  loaded_ = true;
  const std::vector<std::int64_t> keep = selectedIds();
  if (!listing.error.isEmpty()) {
    model_->setRuns({});
    showError(tr("Cannot read the run history. %1\nThe database was left as it is; fix or move it, then Refresh.").arg(listing.error));
    count_->setText(tr("No runs shown."));
    emit loadedRuns(0);
    updateButtons();
    return;
  }
  banner_->setVisible(false);
  model_->setRuns(listing.runs);
  selectIds(keep);
  count_->setText(tr("%1 runs in %2").arg(listing.runs.size()).arg(service_->path()));
  emit loadedRuns(static_cast<int>(listing.runs.size()));
  updateButtons();
}

void HistoryView::showError(const QString& message) {
  banner_->setText(message);
  banner_->setVisible(true);
}

std::vector<std::int64_t> HistoryView::selectedIds() const {
  std::vector<std::int64_t> ids;
  for (const QModelIndex& index : table_->selectionModel()->selectedRows()) {
    ids.push_back(model_->run(proxy_->mapToSource(index).row()).id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

void HistoryView::selectIds(const std::vector<std::int64_t>& ids) {
  QItemSelection selection;
  for (int row = 0; row < model_->rowCount(); ++row) {
    if (std::find(ids.begin(), ids.end(), model_->run(row).id) == ids.end()) continue;
    const QModelIndex index = proxy_->mapFromSource(model_->index(row, 0));
    if (index.isValid()) selection.select(index, index);
  }
  table_->selectionModel()->select(selection, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
}

void HistoryView::updateButtons() {
  const std::size_t selected = selectedIds().size();
  open_->setEnabled(selected == 1);
  compare_->setEnabled(selected >= 2);
  tag_->setEnabled(selected >= 1);
  delete_->setEnabled(selected >= 1);
}

void HistoryView::updateCheckpoints() {
  checkpoints_run_ = -1;
  const auto rows = table_->selectionModel()->selectedRows();
  if (rows.size() != 1) {
    checkpoints_->clearRun(rows.isEmpty() ? tr("Select a run to see its checkpoints.")
                                          : tr("Select one run to see its checkpoints."));
    return;
  }
  const RunRecord& run = model_->run(proxy_->mapToSource(rows.front()).row());
  // The launcher records the absolute out_dir; older rows only have it in their project.
  std::string out_dir = run.out_dir;
  if (out_dir.empty() && run.project.contains("train") && run.project["train"].contains("out_dir") &&
      run.project["train"]["out_dir"].is_string()) {
    out_dir = run.project["train"]["out_dir"].get<std::string>();
  }
  if (out_dir.empty()) {
    checkpoints_->clearRun(tr("Run #%1 recorded no output folder.").arg(run.id));
    return;
  }
  checkpoints_->showRun(QString::fromStdString(out_dir), tr("run #%1").arg(run.id));
  checkpoints_run_ = run.id;
}

std::int64_t HistoryView::shownCheckpointsRun() const { return checkpoints_->checkpoints().empty() ? -1 : checkpoints_run_; }

void HistoryView::tagSelected() {
  const auto ids = selectedIds();
  if (ids.empty()) return;
  bool ok = false;
  const QString text = QInputDialog::getText(this, tr("Tag runs"), tr("Tags, separated by commas (empty clears):"),
                                             QLineEdit::Normal, QString(), &ok);
  if (!ok) return;
  std::vector<std::string> tags;
  for (const QString& tag : text.split(',', Qt::SkipEmptyParts)) tags.push_back(tag.trimmed().toStdString());
  for (std::int64_t id : ids) service_->setTags(id, tags);
}

void HistoryView::deleteSelected() {
  const auto ids = selectedIds();
  if (ids.empty()) return;
  const auto answer = QMessageBox::question(this, tr("Delete runs"),
                                            tr("Delete %n run(s) and their metrics from the history? Output folders stay.", "",
                                               static_cast<int>(ids.size())));
  if (answer != QMessageBox::Yes) return;
  for (std::int64_t id : ids) service_->remove(id);
}

}  // namespace behemoth::ui

namespace behemoth::ui {

void HistoryView::applyTheme(const QPalette& palette) {
  styleChart(preview_, palette);
  if (auto* title = qobject_cast<QCPTextElement*>(preview_->plotLayout()->element(0, 0))) {
    title->setTextColor(palette.color(QPalette::Text));
  }
  replotIfSized(preview_);
}

void HistoryView::requestPreview() {
  const auto ids = selectedIds();
  if (ids.empty()) {
    showPreview({});
    return;
  }
  service_->fetch(ids, kPreviewPurpose);
}

void HistoryView::showPreview(const HistoryDetails& details) {
  preview_->clearGraphs();
  preview_->clearItems();
  QStringList text;
  if (!details.error.isEmpty()) text << tr("<span style='color:#EF4444'>%1</span>").arg(details.error.toHtmlEscaped());
  double lowest = 1e300, highest = -1e300, last_step = 0;
  for (std::size_t i = 0; i < details.runs.size(); ++i) {
    const RunDetails& run = details.runs[i];
    const RunSeries series = seriesFromHistory(run);
    QCPGraph* graph = preview_->addGraph();
    graph->setName(series.label);
    graph->setPen(QPen(seriesColor(static_cast<int>(i)), 2));
    graph->setData(series.steps, series.loss, true);
    for (double v : series.loss) {
      lowest = std::min(lowest, v);
      highest = std::max(highest, v);
    }
    if (!series.steps.isEmpty()) last_step = std::max(last_step, series.steps.last());
    const RunRecord& r = run.run;
    QString line = tr("<b style='color:%1'>#%2 %3</b> — %4, %5 parameters on %6 ranks (%7)")
                       .arg(seriesColor(static_cast<int>(i)).name())
                       .arg(r.id)
                       .arg(QString::fromStdString(r.name).toHtmlEscaped(),
                            QString::fromStdString(outcomeName(r.outcome)), humanCount(double(r.parameter_count)))
                       .arg(r.world_size)
                       .arg(QString::fromStdString(planSummary(r.plan)).toHtmlEscaped());
    if (!r.error.empty()) line += tr("<br><span style='color:#EF4444'>%1</span>").arg(QString::fromStdString(r.error).toHtmlEscaped());
    if (!r.tags.empty()) {
      QStringList tags;
      for (const std::string& tag : r.tags) tags << QString::fromStdString(tag).toHtmlEscaped();
      line += tr("<br>tags: %1").arg(tags.join(", "));
    }
    text << line;
  }
  // One run: its checkpoints (listed beside) as dashed lines on its loss.
  const bool one_run = details.runs.size() == 1 && details.runs.front().run.id == shownCheckpointsRun();
  if (one_run) {
    for (const CheckpointInfo& checkpoint : checkpoints_->checkpoints()) {
      auto* line = new QCPItemStraightLine(preview_);
      QPen pen(QColor(0x64, 0x74, 0x8B), 1, Qt::DashLine);
      pen.setCosmetic(true);
      line->setPen(pen);
      line->point1->setCoords(double(checkpoint.step), 0);
      line->point2->setCoords(double(checkpoint.step), 1);
      last_step = std::max(last_step, double(checkpoint.step));
    }
  }
  preview_->legend->setVisible(details.runs.size() > 1);
  if (lowest <= highest) {
    const double span = std::max(highest - lowest, 1e-9);
    preview_->xAxis->setRange(0, std::max(1.0, last_step) * 1.02);
    preview_->yAxis->setRange(lowest - 0.05 * span, highest + 0.08 * span);
  }
  replotIfSized(preview_);
  preview_text_->setText(text.isEmpty() ? tr("Select runs to see their loss here; double-click one for all its charts.")
                                        : text.join("<br><br>"));
}

}  // namespace behemoth::ui
