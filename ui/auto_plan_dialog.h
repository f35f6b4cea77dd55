// The "Auto plan" dialog: runs the planner search in the background and lists the best plans with
// their estimates; "Apply" writes the chosen one into the project (one undo step).
#pragma once

#include <QDialog>
#include <QFutureWatcher>

#include "ui/auto_plan.h"

class QCheckBox;
class QLabel;
class QPushButton;
class QTableWidget;

namespace behemoth::ui {

class ProjectDocument;

class AutoPlanDialog : public QDialog {
  Q_OBJECT

 public:
  AutoPlanDialog(ProjectDocument* document, QWidget* parent = nullptr);
  ~AutoPlanDialog() override;

  void search();
  QTableWidget* table() const { return table_; }
  bool searching() const { return watcher_.isRunning(); }

 signals:
  void applied(const QString& summary);

 private:
  void showOutcome();
  void applySelected();

  ProjectDocument* document_;
  QCheckBox* runnable_only_;
  QLabel* status_;
  QTableWidget* table_;
  QPushButton* apply_;
  QFutureWatcher<AutoPlanOutcome> watcher_;
  AutoPlanOutcome outcome_;
};

}  // namespace behemoth::ui
