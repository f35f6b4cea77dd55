// The Studio's window: the project (new, open, save, recent, undo/redo), a sidebar of views
// (model, mesh, plan + memory + pipeline schedule + ZeRO-3 chunks, run, history, compare, serve),
// the status bar, shortcuts, themes and the window state kept between sessions. Wires the views to the document and the services; the
// views present, the small classes behind them compute.
#pragma once

#include <QFutureWatcher>
#include <QMainWindow>

#include <vector>

#include "ui/auto_plan.h"
#include "ui/estimate_service.h"
#include "ui/history_service.h"
#include "ui/project_document.h"
#include "ui/theme.h"

class QAction;
class QLabel;
class QListWidget;
class QMenu;
class QSplitter;
class QStackedWidget;
class QToolButton;

namespace behemoth::ui {

class ChunkView;
class CompareView;
class HistoryView;
class MemoryPanel;
class MeshDesignerView;
class ModelPickerView;
class PlanEditorView;
class RunView;
class ScheduleView;
class ServeView;

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  enum class Page { model = 0, mesh, plan, run, history, compare, serve };

  // `history_path` empty: $BEHEMOTH_HISTORY / the engine's default. `restore_settings` false keeps
  // QSettings untouched (tests, screenshots).
  explicit MainWindow(const QString& history_path = {}, bool restore_settings = true, QWidget* parent = nullptr);
  ~MainWindow() override;

  ProjectDocument* document() { return &document_; }
  EstimateService* estimates() { return &estimates_; }
  HistoryService* historyService() { return &history_; }
  ModelPickerView* modelPicker() const { return picker_; }
  MeshDesignerView* meshDesigner() const { return mesh_; }
  PlanEditorView* planEditor() const { return plan_; }
  MemoryPanel* memoryPanel() const { return memory_; }
  ScheduleView* scheduleView() const { return schedule_; }
  ChunkView* chunkView() const { return chunks_; }
  // The plan page's right-hand column: memory panel, schedule, chunks (screenshots size it).
  QSplitter* planColumn() const { return plan_right_; }
  RunView* runView() const { return run_; }
  HistoryView* historyView() const { return history_view_; }
  CompareView* compareView() const { return compare_; }
  ServeView* serveView() const { return serve_; }
  QLabel* notice() const { return notice_; }

  void showPage(Page page);
  Page currentPage() const;
  // Opens PATH; on failure shows the engine's message in the window and keeps the open project.
  bool openProject(const QString& path);
  bool saveProject();
  bool saveProjectAs(const QString& path);
  void newProject();
  // Fetches runs from the history and shows them on the Compare page (or the Run page for one).
  void compareRuns(std::vector<std::int64_t> ids);
  void openHistoryRun(std::int64_t id);
  // Runs the open project from checkpoint STEP_DIR (`behemoth run ... --resume STEP_DIR`): the
  // current project and plan, whatever layout saved the checkpoint.
  void resumeRun(const QString& step_dir);
  void setTheme(Theme theme);
  Theme theme() const { return theme_; }
  // Shows a message in the window's notice bar (error: red).
  void showNotice(const QString& text, bool error);
  // True while the planner searches for a plan that would fit.
  bool suggesting() const { return suggestion_watcher_.isRunning(); }

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  void buildActions();
  void buildPages();
  void requestAnalysis();
  void onAnalysis(const AnalysisPtr& analysis);
  void onFetched(const HistoryDetails& details, int purpose);
  void startRun() { launchRun({}); }
  void launchRun(const QString& resume);
  void openMetricsFile();
  // Serves the open project (saved first) on the Serve page.
  void serveProject();
  bool maybeSave();
  void addRecent(const QString& path);
  void rebuildRecentMenu();
  void updateTitle();
  void restyleCharts();
  // When a plan does not fit: the planner's fastest fitting plan, searched off the UI thread.
  void suggestFittingPlan();
  void showFitSuggestion();

  ProjectDocument document_;
  EstimateService estimates_;
  HistoryService history_;
  bool restore_settings_;
  Theme theme_ = Theme::light;
  QListWidget* sidebar_ = nullptr;
  QStackedWidget* pages_ = nullptr;
  ModelPickerView* picker_ = nullptr;
  MeshDesignerView* mesh_ = nullptr;
  PlanEditorView* plan_ = nullptr;
  MemoryPanel* memory_ = nullptr;
  ScheduleView* schedule_ = nullptr;
  QWidget* schedule_area_ = nullptr;  // the schedule's scroll area (hidden without a pipeline)
  ChunkView* chunks_ = nullptr;
  QWidget* chunk_area_ = nullptr;     // the chunk view's scroll area (hidden unless zero 3)
  QSplitter* plan_right_ = nullptr;
  RunView* run_ = nullptr;
  HistoryView* history_view_ = nullptr;
  CompareView* compare_ = nullptr;
  ServeView* serve_ = nullptr;
  QLabel* notice_ = nullptr;
  QToolButton* notice_close_ = nullptr;
  QLabel* fit_status_ = nullptr;
  QLabel* timing_status_ = nullptr;
  QMenu* recent_menu_ = nullptr;
  QAction* run_action_ = nullptr;
  QAction* stop_action_ = nullptr;
  QStringList recent_;
  QFutureWatcher<AutoPlanOutcome> suggestion_watcher_;
  nlohmann::json suggestion_for_;           // the project JSON the running/last search answered
  std::optional<RankedPlan> suggestion_;
};

}  // namespace behemoth::ui
