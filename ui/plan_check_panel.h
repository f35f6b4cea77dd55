// Predicted against measured for one recorded run: per rank (mesh position) the planner's model
// state, peak memory and activations beside the run's own counters, then the step's communication
// and time, each with its error. The estimate is recomputed off the UI thread (on a CPU it times a
// matmul for the rate).
#pragma once

#include <QFutureWatcher>
#include <QWidget>

#include <optional>
#include <vector>

#include "backend/history/history_store.h"
#include "backend/planning/run_against_plan.h"

class QComboBox;
class QLabel;
class QTableWidget;

namespace behemoth::ui {

class PlanCheckPanel : public QWidget {
  Q_OBJECT

 public:
  explicit PlanCheckPanel(QWidget* parent = nullptr);

  // The runs a user can pick from (the compare view's); shows the first.
  void setRuns(std::vector<RunDetails> runs);
  void showRun(int index);
  bool busy() const { return watcher_.isRunning(); }
  QTableWidget* table() const { return table_; }
  QComboBox* runChooser() const { return chooser_; }
  QLabel* status() const { return status_; }
  // The last comparison shown (tests read its numbers).
  const std::optional<RunAgainstPlan>& comparison() const { return comparison_; }

 private:
  struct Outcome {
    std::optional<RunAgainstPlan> comparison;
    QString error;
  };
  void showOutcome();

  std::vector<RunDetails> runs_;
  QComboBox* chooser_;
  QLabel* status_;
  QTableWidget* table_;
  QFutureWatcher<Outcome> watcher_;
  std::optional<RunAgainstPlan> comparison_;
  int pending_ = -1;  // a run asked for while another was being estimated
};

}  // namespace behemoth::ui
