// Compare: two or more recorded runs' curves overlaid (smoothed, against step, tokens or wall
// time, log scales, grouped by a plan field as a mean with a band), a table of the settings that
// differ (resolved values, so a default left out is no difference) followed by their results, and
// per rank the planner's estimate against what each run measured. Charts, table and series export.
#pragma once

#include <QTimer>
#include <QWidget>

#include <vector>

#include "backend/history/history_store.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QSlider;
class QTableWidget;
class QTabWidget;
class QToolButton;

namespace behemoth::ui {

class MetricCharts;
class PlanCheckPanel;

class CompareView : public QWidget {
  Q_OBJECT

 public:
  explicit CompareView(QWidget* parent = nullptr);

  void showRuns(const std::vector<RunDetails>& runs);
  // The same runs re-read (a running one has more steps): curves and table follow, the toolbar's
  // choices stay. Runs that are not the ones shown are ignored.
  void updateRuns(const std::vector<RunDetails>& runs);
  // While a shown run is running, refreshRequested(ids) fires this often (default 2 s).
  void setLiveIntervalMs(int ms) { live_timer_.setInterval(ms); }
  bool live() const { return live_timer_.isActive(); }
  MetricCharts* charts() const { return charts_; }
  QTableWidget* diffTable() const { return table_; }
  PlanCheckPanel* planCheck() const { return plan_check_; }
  QSlider* smoothingSlider() const { return smoothing_; }
  QComboBox* xAxisChooser() const { return x_axis_; }
  QComboBox* groupChooser() const { return group_by_; }
  QCheckBox* showAllSettings() const { return show_all_; }
  QToolButton* logScaleButton() const { return log_scale_; }
  QTabWidget* tabs() const { return tabs_; }

  // Exports (the Export menu asks for a file name, then calls these). False with a message in the
  // title when the file cannot be written.
  bool exportChartsPng(const QString& path);
  bool exportChartsSvg(const QString& path);
  // One chart (also from its right-click menu); the format from the file's suffix (.png or .svg).
  bool exportChart(int chart, const QString& path);
  bool exportTableCsv(const QString& path);
  bool exportSeriesCsv(const QString& path);
  // The compare table and the drawn curves as CSV text (what the exports write).
  QString tableCsv() const;
  QString seriesCsv() const;

 signals:
  void refreshRequested(const std::vector<std::int64_t>& ids);

 private:
  void setSeries();
  void applyChartView();
  void fillTable();
  void chooseExport(const QString& what);
  void chooseChartExport(int chart);
  bool reportWrite(bool ok, const QString& path);

  std::vector<RunDetails> runs_;
  MetricCharts* charts_;
  QTableWidget* table_;
  QLabel* title_;
  QSlider* smoothing_;
  QLabel* smoothing_value_;
  QComboBox* x_axis_;
  QToolButton* log_scale_;
  QComboBox* group_by_;
  QCheckBox* show_all_;
  QToolButton* export_;
  QTabWidget* tabs_;
  PlanCheckPanel* plan_check_;
  QTimer live_timer_;
};

}  // namespace behemoth::ui
