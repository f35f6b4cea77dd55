#include "ui/compare_view.h"

#include <QHeaderView>
#include <QLabel>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include "ui/chart_style.h"
#include "ui/metric_charts.h"
#include "ui/run_comparison.h"

namespace behemoth::ui {

CompareView::CompareView(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  title_ = new QLabel(tr("Select two or more runs in the History and press Compare."), this);
  title_->setObjectName(QStringLiteral("sectionTitle"));
  title_->setWordWrap(true);
  layout->addWidget(title_);
  auto* split = new QSplitter(Qt::Vertical, this);
  charts_ = new MetricCharts(split);
  table_ = new QTableWidget(split);
  table_->verticalHeader()->setVisible(false);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setAlternatingRowColors(true);
  table_->horizontalHeader()->setStretchLastSection(true);
  split->addWidget(charts_);
  split->addWidget(table_);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  layout->addWidget(split, 1);
}

void CompareView::showRuns(const std::vector<RunDetails>& runs) {
  std::vector<RunSeries> series;
  QStringList names;
  for (const RunDetails& run : runs) {
    series.push_back(seriesFromHistory(run));
    names << series.back().label;
  }
  charts_->setRuns(std::move(series));
  title_->setText(tr("Comparing %1").arg(names.join(tr(" vs "))));

  const std::vector<ComparisonRow> rows = compareRuns(runs);
  table_->clear();
  table_->setColumnCount(static_cast<int>(runs.size()) + 1);
  QStringList headers = {tr("setting / result")};
  headers << names;
  table_->setHorizontalHeaderLabels(headers);
  table_->setRowCount(static_cast<int>(rows.size()));
  for (int r = 0; r < static_cast<int>(rows.size()); ++r) {
    auto* field = new QTableWidgetItem(rows[r].field);
    QFont font = field->font();
    font.setBold(!rows[r].is_result);
    field->setFont(font);
    field->setToolTip(rows[r].is_result ? tr("result") : tr("setting that differs between the runs"));
    table_->setItem(r, 0, field);
    for (int c = 0; c < rows[r].values.size(); ++c) {
      auto* value = new QTableWidgetItem(rows[r].values[c]);
      value->setForeground(seriesColor(c));
      table_->setItem(r, c + 1, value);
    }
  }
  table_->resizeColumnsToContents();
}

}  // namespace behemoth::ui
