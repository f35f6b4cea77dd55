// History: the recorded runs in a searchable, sortable table; open one run's charts, compare two
// or more, tag or delete runs; one run's checkpoints, to resume from. Database errors (locked,
// corrupt) appear in a banner.
#pragma once

#include <QWidget>

#include <vector>

#include "ui/history_service.h"

class QPalette;

class QCustomPlot;
class QLabel;
class QLineEdit;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;

namespace behemoth::ui {

class CheckpointPanel;
class HistoryTableModel;

class HistoryView : public QWidget {
  Q_OBJECT

 public:
  HistoryView(HistoryService* service, QWidget* parent = nullptr);

  void refresh();
  std::vector<std::int64_t> selectedIds() const;
  void selectIds(const std::vector<std::int64_t>& ids);
  void setFilter(const QString& text);

  QTableView* table() const { return table_; }
  QCustomPlot* preview() const { return preview_; }
  QSortFilterProxyModel* proxy() const { return proxy_; }
  QLabel* banner() const { return banner_; }
  HistoryTableModel* model() const { return model_; }
  CheckpointPanel* checkpoints() const { return checkpoints_; }
  bool loaded() const { return loaded_; }
  void applyTheme(const QPalette& palette);

 signals:
  void openRequested(std::int64_t id);
  void compareRequested(const std::vector<std::int64_t>& ids);
  void loadedRuns(int count);
  // Resume from this checkpoint (a step directory) with the current project.
  void resumeRequested(const QString& step_dir);

 private:
  void onListed(const HistoryListing& listing);
  void requestPreview();
  void showPreview(const HistoryDetails& details);
  void showError(const QString& message);
  void updateButtons();
  void updateCheckpoints();
  std::int64_t shownCheckpointsRun() const;  // the run whose checkpoints the panel lists, or -1
  void tagSelected();
  void deleteSelected();

  HistoryService* service_;
  HistoryTableModel* model_;
  QSortFilterProxyModel* proxy_;
  QTableView* table_;
  QLineEdit* filter_;
  QLabel* banner_;
  QLabel* count_;
  QCustomPlot* preview_;
  QLabel* preview_text_;
  CheckpointPanel* checkpoints_;
  std::int64_t checkpoints_run_ = -1;
  QPushButton* open_;
  QPushButton* compare_;
  QPushButton* tag_;
  QPushButton* delete_;
  bool loaded_ = false;
};

}  // namespace behemoth::ui
