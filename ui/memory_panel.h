// Every device's estimated memory as a stacked bar (parameters, gradients, optimizer states,
// activations, buffers) against its capacity, with devices that do not fit marked in red, the
// step-time figures, and the "Auto plan" button. Presents a ProjectAnalysis; computes nothing.
#pragma once

#include <QWidget>

#include <vector>

#include "ui/estimate_service.h"

class QCustomPlot;
class QCPBars;
class QCPItemStraightLine;
class QCPItemText;
class QLabel;
class QPushButton;

namespace behemoth::ui {

class MemoryPanel : public QWidget {
  Q_OBJECT

 public:
  static constexpr int kCategories = 5;

  explicit MemoryPanel(QWidget* parent = nullptr);

  void showAnalysis(const AnalysisPtr& analysis);
  // The planner's answer to "what would fit": a plan summary (applied with the link), or a note.
  void showSuggestion(const QString& html);
  QLabel* suggestionLabel() const { return suggestion_; }
  void applyTheme(const QPalette& palette);

  QCustomPlot* plot() const { return plot_; }
  QPushButton* autoPlanButton() const { return auto_plan_; }
  // The bar values (decimal GB) of a category, one per device (tests read these).
  std::vector<double> categoryValues(int category) const;
  QString summaryText() const;

 signals:
  void autoPlanRequested();
  void applySuggestionRequested();

 private:
  QCustomPlot* plot_;
  std::vector<QCPBars*> bars_;
  QCPBars* over_marker_ = nullptr;     // red outline around devices over capacity
  QCPItemStraightLine* capacity_line_ = nullptr;
  QCPItemText* capacity_label_ = nullptr;
  QLabel* headline_;
  QLabel* details_;
  QLabel* suggestion_;
  QPushButton* auto_plan_;
  QPalette palette_;
};

}  // namespace behemoth::ui
