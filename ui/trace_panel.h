// A traced run's pipeline (train.trace: true): the measured timeline of the chosen step, read from
// OUT_DIR/trace with the engine's reader, above the step its plan simulates, each rank's bubble at
// the row's end. Hidden by the Run view for runs without a trace.
#pragma once

#include <QWidget>

#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "backend/pipeline/step_trace.h"
#include "ui/schedule_model.h"

class QComboBox;
class QLabel;

namespace behemoth::ui {

class ScheduleView;

class TracePanel : public QWidget {
  Q_OBJECT

 public:
  explicit TracePanel(QWidget* parent = nullptr);

  // Reads OUT_DIR's trace and shows its last step. `project`: the run's project JSON (its plan's
  // simulated step is drawn below; empty JSON: none). Returns whether OUT_DIR has a trace folder
  // (a folder that cannot be read shows the engine's message).
  bool showRun(const QString& out_dir, const nlohmann::json& project);
  void clear();
  bool hasTrace() const { return has_trace_; }
  void showStep(int step);

  QComboBox* stepCombo() const { return steps_; }
  ScheduleView* view() const { return view_; }
  QLabel* message() const { return message_; }

 private:
  std::vector<StepTrace> traces_;
  std::optional<ScheduleChart> planned_;
  bool has_trace_ = false;
  QLabel* title_;
  QComboBox* steps_;
  QLabel* message_;
  ScheduleView* view_;
};

}  // namespace behemoth::ui
