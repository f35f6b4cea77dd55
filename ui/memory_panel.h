// Every device's estimated memory as a stacked bar (parameters, gradients, optimizer states,
// activations, buffers) against its capacity, with devices that do not fit marked in red, the
// step-time figures, and the "Auto plan" button. For ZeRO-3 plans each rank's bar stacks its
// memory tiers instead: the device's chunk shards, the chunks gathered at the peak, activations
// and buffers, then the chunk shards in host memory and on disk (the planner's chunk plan).
// Presents a ProjectAnalysis; computes nothing.
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
  // The ZeRO-3 stack, bottom to top; the first four are device memory (against its capacity).
  enum TierSegment { kDeviceChunks = 0, kGatheredChunks, kTierActivations, kTierBuffers, kHostChunks, kDiskChunks };
  static constexpr int kTierSegments = 6;

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
  // Whether the bars show the ZeRO-3 tier stack, and a segment's values (decimal GB per rank).
  bool showsTiers() const { return shows_tiers_; }
  std::vector<double> tierValues(int segment) const;
  // The legend's entry names, in order (tests check what a reader is told).
  QStringList legendNames() const;
  QString summaryText() const;

 signals:
  void autoPlanRequested();
  void applySuggestionRequested();

 private:
  QCustomPlot* plot_;
  void showBarSet(bool tiers);

  std::vector<QCPBars*> bars_;
  std::vector<QCPBars*> tier_bars_;
  bool shows_tiers_ = false;
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
