// The checkpoints of one run (OUT_DIR/checkpoints, read with the engine's catalog): step, saved
// time, layout, size, the latest marked; "Resume" continues the run from the chosen one.
#pragma once

#include <QWidget>

#include <optional>
#include <vector>

#include "backend/checkpoint/checkpoint_catalog.h"

class QLabel;
class QPushButton;
class QTableWidget;

namespace behemoth::ui {

class CheckpointPanel : public QWidget {
  Q_OBJECT

 public:
  enum Column { step = 0, saved, layout, size, latest, column_count };

  explicit CheckpointPanel(QWidget* parent = nullptr);

  // Lists the checkpoints under OUT_DIR and selects the latest. Reads a few small JSON files per
  // checkpoint (index and state), so it runs on the UI thread.
  void showRun(const QString& out_dir, const QString& run_label);
  // No run (or several) chosen: an empty list and `hint`.
  void clearRun(const QString& hint);

  const std::vector<CheckpointInfo>& checkpoints() const { return checkpoints_; }
  std::optional<CheckpointInfo> selected() const;
  void selectStep(std::int64_t step);

  QTableWidget* table() const { return table_; }
  QPushButton* resumeButton() const { return resume_; }
  QLabel* hint() const { return hint_; }

 signals:
  // The step directory to continue from.
  void resumeRequested(const QString& step_dir);

 private:
  void updateButton();

  std::vector<CheckpointInfo> checkpoints_;
  QLabel* title_;
  QTableWidget* table_;
  QLabel* hint_;
  QPushButton* resume_;
};

}  // namespace behemoth::ui
