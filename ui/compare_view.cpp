#include "ui/compare_view.h"

#include <QBuffer>
#include <QCheckBox>
#include <QComboBox>
#include <QFile>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QSaveFile>
#include <QSlider>
#include <QSplitter>
#include <QSvgGenerator>
#include <QTabWidget>
#include <QTableWidget>
#include <QToolButton>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include "ui/chart_style.h"
#include "ui/metric_charts.h"
#include "ui/plan_check_panel.h"
#include "ui/run_comparison.h"
#include "ui/run_groups.h"

namespace behemoth::ui {
namespace {

// A CSV field: quoted when it holds a comma, a quote or a line break.
QString csvField(const QString& text) {
  if (!text.contains(QLatin1Char(',')) && !text.contains(QLatin1Char('"')) && !text.contains(QLatin1Char('\n'))) return text;
  QString quoted = text;
  quoted.replace(QLatin1String("\""), QLatin1String("\"\""));
  return QLatin1Char('"') + quoted + QLatin1Char('"');
}

// Written whole or not at all: a half-written export never replaces a good one.
bool writeAtomically(const QString& path, const QByteArray& bytes) {
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly)) return false;
  file.write(bytes);
  return file.commit();
}

const char* const kChartNames[] = {"loss", "throughput", "step time", "memory", "communication", "gradient norm"};

}  // namespace

CompareView::CompareView(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  title_ = new QLabel(tr("Select two or more runs in the History and press Compare."), this);
  title_->setObjectName(QStringLiteral("sectionTitle"));
  title_->setWordWrap(true);
  layout->addWidget(title_);

  auto* bar = new QHBoxLayout;
  bar->addWidget(new QLabel(tr("Smoothing"), this));
  smoothing_ = new QSlider(Qt::Horizontal, this);
  smoothing_->setObjectName(QStringLiteral("smoothing"));
  smoothing_->setRange(0, 99);
  smoothing_->setMaximumWidth(160);
  smoothing_->setToolTip(tr("Exponential moving average, debiased at the start; the raw curve stays faint behind"));
  bar->addWidget(smoothing_);
  smoothing_value_ = new QLabel(QStringLiteral("0.00"), this);
  bar->addWidget(smoothing_value_);
  bar->addSpacing(12);
  bar->addWidget(new QLabel(tr("X axis"), this));
  x_axis_ = new QComboBox(this);
  x_axis_->setObjectName(QStringLiteral("xAxis"));
  for (XAxisKind kind : {XAxisKind::step, XAxisKind::tokens, XAxisKind::wall_relative, XAxisKind::wall_absolute}) {
    x_axis_->addItem(xAxisLabel(kind), static_cast<int>(kind));
  }
  bar->addWidget(x_axis_);
  log_scale_ = new QToolButton(this);
  log_scale_->setText(tr("Log scale"));
  log_scale_->setPopupMode(QToolButton::InstantPopup);
  auto* log_menu = new QMenu(log_scale_);
  for (int c = 0; c < MetricCharts::chart_count; ++c) {
    QAction* action = log_menu->addAction(QString::fromUtf8(kChartNames[c]));
    action->setCheckable(true);
    action->setData(c);
    connect(action, &QAction::toggled, this, &CompareView::applyChartView);
  }
  log_scale_->setMenu(log_menu);
  bar->addWidget(log_scale_);
  bar->addSpacing(12);
  bar->addWidget(new QLabel(tr("Group by"), this));
  group_by_ = new QComboBox(this);
  group_by_->setObjectName(QStringLiteral("groupBy"));
  group_by_->setToolTip(tr("Each group is drawn as the mean of its runs with a band from the lowest to the highest"));
  bar->addWidget(group_by_);
  bar->addStretch(1);
  export_ = new QToolButton(this);
  export_->setText(tr("Export"));
  export_->setPopupMode(QToolButton::InstantPopup);
  auto* export_menu = new QMenu(export_);
  for (const QString& what : {tr("Charts as PNG…"), tr("Charts as SVG…"), tr("Table as CSV…"), tr("Curves as CSV…")}) {
    connect(export_menu->addAction(what), &QAction::triggered, this, [this, what] { chooseExport(what); });
  }
  export_->setMenu(export_menu);
  bar->addWidget(export_);
  layout->addLayout(bar);

  auto* split = new QSplitter(Qt::Vertical, this);
  charts_ = new MetricCharts(split);
  tabs_ = new QTabWidget(split);
  auto* table_page = new QWidget(tabs_);
  auto* table_layout = new QVBoxLayout(table_page);
  table_layout->setContentsMargins(0, 4, 0, 0);
  show_all_ = new QCheckBox(tr("Show every setting, not only those that differ"), table_page);
  table_layout->addWidget(show_all_);
  table_ = new QTableWidget(table_page);
  table_->verticalHeader()->setVisible(false);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setAlternatingRowColors(true);
  table_->horizontalHeader()->setStretchLastSection(true);
  table_layout->addWidget(table_, 1);
  tabs_->addTab(table_page, tr("Settings and results"));
  plan_check_ = new PlanCheckPanel(tabs_);
  tabs_->addTab(plan_check_, tr("Planner against measured"));
  split->addWidget(charts_);
  split->addWidget(tabs_);
  // Any one chart: right-click it.
  for (int c = 0; c < MetricCharts::chart_count; ++c) {
    QCustomPlot* plot = charts_->plot(static_cast<MetricCharts::Chart>(c));
    plot->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(plot, &QWidget::customContextMenuRequested, this, [this, plot, c](const QPoint& at) {
      QMenu menu(plot);
      connect(menu.addAction(tr("Save this chart as PNG or SVG…")), &QAction::triggered, this, [this, c] { chooseChartExport(c); });
      menu.exec(plot->mapToGlobal(at));
    });
  }
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  layout->addWidget(split, 1);

  connect(smoothing_, &QSlider::valueChanged, this, [this](int value) {
    smoothing_value_->setText(QString::number(value / 100.0, 'f', 2));
    applyChartView();
  });
  connect(x_axis_, qOverload<int>(&QComboBox::currentIndexChanged), this, &CompareView::applyChartView);
  connect(group_by_, qOverload<int>(&QComboBox::currentIndexChanged), this, &CompareView::applyChartView);
  connect(show_all_, &QCheckBox::toggled, this, &CompareView::fillTable);
  live_timer_.setInterval(2000);
  connect(&live_timer_, &QTimer::timeout, this, [this] {
    std::vector<std::int64_t> ids;
    for (const RunDetails& run : runs_) ids.push_back(run.run.id);
    emit refreshRequested(ids);
  });
}

void CompareView::showRuns(const std::vector<RunDetails>& runs) {
  runs_ = runs;
  setSeries();
  plan_check_->setRuns(runs);
}

void CompareView::updateRuns(const std::vector<RunDetails>& runs) {
  if (runs.size() != runs_.size()) return;
  for (std::size_t k = 0; k < runs.size(); ++k) {
    if (runs[k].run.id != runs_[k].run.id) return;
  }
  runs_ = runs;
  setSeries();
}

void CompareView::setSeries() {
  const std::vector<RunDetails>& runs = runs_;
  std::vector<RunSeries> series;
  QStringList names;
  bool running = false;
  for (const RunDetails& run : runs) {
    series.push_back(seriesFromHistory(run));
    names << series.back().label;
    running = running || run.run.outcome == RunOutcome::running;
  }
  if (running && !live_timer_.isActive()) live_timer_.start();
  if (!running) live_timer_.stop();
  {
    const QSignalBlocker block(group_by_);
    const QString previous = group_by_->currentText();
    group_by_->clear();
    group_by_->addItem(tr("none (one curve per run)"));
    group_by_->addItems(groupableFields(runs));
    const int keep = group_by_->findText(previous);
    group_by_->setCurrentIndex(keep > 0 ? keep : 0);
  }
  charts_->setRuns(std::move(series));
  applyChartView();
  title_->setText(tr("Comparing %1%2").arg(names.join(tr(" vs ")), running ? tr(" (live)") : QString()));
  fillTable();
}

void CompareView::applyChartView() {
  MetricCharts::View view;
  view.smoothing = smoothing_->value() / 100.0;
  view.x_axis = static_cast<XAxisKind>(x_axis_->currentData().toInt());
  for (QAction* action : log_scale_->menu()->actions()) view.log_y[action->data().toInt()] = action->isChecked();
  if (group_by_->currentIndex() > 0) {
    for (const RunGroup& group : groupRuns(runs_, group_by_->currentText())) {
      view.groups.push_back(group.members);
      view.group_labels << group_by_->currentText() + QStringLiteral(" = ") + group.label();
    }
  }
  charts_->setView(view);
}

void CompareView::fillTable() {
  const std::vector<ComparisonRow> rows = compareRuns(runs_, show_all_->isChecked());
  table_->clear();
  table_->setColumnCount(static_cast<int>(runs_.size()) + 1);
  QStringList headers = {tr("setting / result")};
  for (const RunSeries& run : charts_->runs()) headers << run.label;
  table_->setHorizontalHeaderLabels(headers);
  table_->setRowCount(static_cast<int>(rows.size()));
  for (int r = 0; r < static_cast<int>(rows.size()); ++r) {
    auto* field = new QTableWidgetItem(rows[r].field);
    QFont font = field->font();
    font.setBold(!rows[r].is_result && rows[r].differs);
    field->setFont(font);
    field->setToolTip(rows[r].is_result ? tr("result")
                                        : rows[r].differs ? tr("setting that differs between the runs") : tr("the same in every run"));
    table_->setItem(r, 0, field);
    for (int c = 0; c < rows[r].values.size(); ++c) {
      auto* value = new QTableWidgetItem(rows[r].values[c]);
      if (rows[r].differs) {
        value->setForeground(seriesColor(c));
      } else {
        value->setForeground(palette().color(QPalette::Disabled, QPalette::Text));
      }
      table_->setItem(r, c + 1, value);
    }
  }
  table_->resizeColumnsToContents();
}

QString CompareView::tableCsv() const {
  QStringList lines;
  QStringList header;
  for (int c = 0; c < table_->columnCount(); ++c) header << csvField(table_->horizontalHeaderItem(c)->text());
  lines << header.join(QLatin1Char(','));
  for (int r = 0; r < table_->rowCount(); ++r) {
    QStringList cells;
    for (int c = 0; c < table_->columnCount(); ++c) cells << csvField(table_->item(r, c) ? table_->item(r, c)->text() : QString());
    lines << cells.join(QLatin1Char(','));
  }
  return lines.join(QLatin1Char('\n')) + QLatin1Char('\n');
}

QString CompareView::seriesCsv() const {
  QStringList lines = {QStringLiteral("chart,curve,%1,value").arg(csvField(xAxisLabel(charts_->view().x_axis)))};
  for (int c = 0; c < MetricCharts::chart_count; ++c) {
    QCustomPlot* plot = charts_->plot(static_cast<MetricCharts::Chart>(c));
    for (int g = 0; g < plot->graphCount(); ++g) {
      QCPGraph* graph = plot->graph(g);
      const QString prefix = csvField(QString::fromUtf8(kChartNames[c])) + QLatin1Char(',') + csvField(graph->name()) + QLatin1Char(',');
      for (auto point = graph->data()->constBegin(); point != graph->data()->constEnd(); ++point) {
        lines << prefix + QString::number(point->key, 'g', 17) + QLatin1Char(',') + QString::number(point->value, 'g', 17);
      }
    }
  }
  return lines.join(QLatin1Char('\n')) + QLatin1Char('\n');
}

namespace {

QByteArray pngOf(const QPixmap& pixmap) {
  QByteArray bytes;
  QBuffer buffer(&bytes);
  buffer.open(QIODevice::WriteOnly);
  return pixmap.save(&buffer, "PNG") ? bytes : QByteArray();
}

// `plots` drawn as vectors at their places inside `area` (one chart: the chart itself).
QByteArray svgOf(QWidget* area, const std::vector<QCustomPlot*>& plots, const QString& title) {
  QByteArray bytes;
  QBuffer buffer(&bytes);
  buffer.open(QIODevice::WriteOnly);
  {
    QSvgGenerator svg;
    svg.setOutputDevice(&buffer);
    svg.setSize(area->size());
    svg.setViewBox(QRect(QPoint(0, 0), area->size()));
    svg.setTitle(title);
    QCPPainter painter(&svg);
    for (QCustomPlot* plot : plots) {
      painter.save();
      painter.translate(plot == area ? QPoint(0, 0) : plot->mapTo(area, QPoint(0, 0)));
      plot->toPainter(&painter, plot->width(), plot->height());
      painter.restore();
    }
  }
  return bytes;
}

}  // namespace

bool CompareView::reportWrite(bool ok, const QString& path) {
  if (!ok) title_->setText(tr("Could not write %1").arg(path));
  return ok;
}

bool CompareView::exportChartsPng(const QString& path) {
  const QByteArray png = pngOf(charts_->grab());
  return reportWrite(!png.isEmpty() && writeAtomically(path, png), path);
}

bool CompareView::exportChartsSvg(const QString& path) {
  std::vector<QCustomPlot*> plots;
  for (int c = 0; c < MetricCharts::chart_count; ++c) plots.push_back(charts_->plot(static_cast<MetricCharts::Chart>(c)));
  return reportWrite(writeAtomically(path, svgOf(charts_, plots, title_->text())), path);
}

bool CompareView::exportChart(int chart, const QString& path) {
  if (chart < 0 || chart >= MetricCharts::chart_count) return false;
  QCustomPlot* plot = charts_->plot(static_cast<MetricCharts::Chart>(chart));
  const QByteArray bytes = path.endsWith(QLatin1String(".svg"), Qt::CaseInsensitive)
                               ? svgOf(plot, {plot}, QString::fromUtf8(kChartNames[chart]))
                               : pngOf(plot->toPixmap(plot->width(), plot->height()));
  return reportWrite(!bytes.isEmpty() && writeAtomically(path, bytes), path);
}

void CompareView::chooseChartExport(int chart) {
  const QString path = QFileDialog::getSaveFileName(this, tr("Save the %1 chart").arg(QString::fromUtf8(kChartNames[chart])),
                                                    QString(), tr("PNG image (*.png);;SVG image (*.svg)"));
  if (!path.isEmpty()) exportChart(chart, path);
}

bool CompareView::exportTableCsv(const QString& path) { return reportWrite(writeAtomically(path, tableCsv().toUtf8()), path); }

bool CompareView::exportSeriesCsv(const QString& path) { return reportWrite(writeAtomically(path, seriesCsv().toUtf8()), path); }

void CompareView::chooseExport(const QString& what) {
  const bool png = what.contains(QLatin1String("PNG")), svg = what.contains(QLatin1String("SVG"));
  const bool table = what.startsWith(tr("Table"));
  const QString filter = png ? tr("PNG image (*.png)") : svg ? tr("SVG image (*.svg)") : tr("CSV (*.csv)");
  const QString path = QFileDialog::getSaveFileName(this, what, QString(), filter);
  if (path.isEmpty()) return;
  if (png) {
    exportChartsPng(path);
  } else if (svg) {
    exportChartsSvg(path);
  } else if (table) {
    exportTableCsv(path);
  } else {
    exportSeriesCsv(path);
  }
}

}  // namespace behemoth::ui
