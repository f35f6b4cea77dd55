// Compare: two or more recorded runs' curves overlaid, and a table of the settings that differ
// between them followed by their results.
#pragma once

#include <QWidget>

#include <vector>

#include "backend/history/history_store.h"

class QLabel;
class QTableWidget;

namespace behemoth::ui {

class MetricCharts;

class CompareView : public QWidget {
  Q_OBJECT

 public:
  explicit CompareView(QWidget* parent = nullptr);

  void showRuns(const std::vector<RunDetails>& runs);
  MetricCharts* charts() const { return charts_; }
  QTableWidget* diffTable() const { return table_; }

 private:
  MetricCharts* charts_;
  QTableWidget* table_;
  QLabel* title_;
};

}  // namespace behemoth::ui
