// Run: launches the project through the engine (`behemoth run PROJECT --events`), stops it,
// shows its log, and charts its events live; also shows a recorded run (metrics.jsonl or the
// history). A run that fails or an engine that crashes is reported in a banner.
#pragma once

#include <QElapsedTimer>
#include <QWidget>

#include "ui/run_controller.h"
#include "ui/run_series.h"

class QLabel;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSplitter;

namespace behemoth::ui {

class ChunkPanel;
class MetricCharts;
class TracePanel;

class RunView : public QWidget {
  Q_OBJECT

 public:
  explicit RunView(QWidget* parent = nullptr);

  void setEngine(const QString& program) { engine_ = program; }
  const QString& engine() const { return engine_; }
  void setHistoryPath(const QString& path) { history_path_ = path; }

  // Starts `engine run PROJECT_PATH --events --nproc N [--history H] [--resume CHECKPOINT]` in the
  // project's folder. CHECKPOINT: a step directory (or `latest`); the run continues from it with
  // this project, whose plan may differ from the one that saved it.
  bool startRun(const QString& project_path, int nproc, double flops_per_token, const QString& resume = {});
  static QStringList runArguments(const QString& project_path, int nproc, const QString& history_path,
                                  const QString& resume);
  void stopRun();
  // Shows a finished run's curves (not live).
  void showRecorded(RunSeries series, const QString& title);
  // A run's pipeline timeline when OUT_DIR has a trace (train.trace); hidden otherwise.
  // `project`: the run's project JSON, whose plan's simulated step is drawn too.
  void showTrace(const QString& out_dir, const nlohmann::json& project);
  // A ZeRO-3 run's measured chunks when OUT_DIR has a chunk record (OUT_DIR/chunks); hidden
  // otherwise. `project`: the run's project JSON (names each tensor's size).
  void showChunks(const QString& out_dir, const nlohmann::json& project);
  // Why a launch is impossible right now (shown on the Run button); empty enables it.
  void setLaunchBlocker(const QString& reason);

  MetricCharts* charts() const { return charts_; }
  TracePanel* tracePanel() const { return trace_; }
  ChunkPanel* chunkPanel() const { return chunks_; }
  RunController* controller() const { return controller_; }
  QLabel* banner() const { return banner_; }
  QPushButton* runButton() const { return run_; }
  QPushButton* stopButton() const { return stop_; }

 signals:
  void runRequested();       // the Run button: the window saves the project, then calls startRun
  void openMetricsRequested();
  void runEnded(bool completed);
  void statusMessage(const QString& text);

 private:
  void onEvent(const nlohmann::json& event);
  void onEnded(RunController::Ending ending, const QString& message);
  void showBanner(const QString& text, bool error);
  void updateButtons();

  QString engine_;
  QString history_path_;
  QString launch_blocker_;
  RunController* controller_;
  MetricCharts* charts_;
  TracePanel* trace_;
  ChunkPanel* chunks_;
  QSplitter* split_;
  QPlainTextEdit* log_;
  QLabel* title_;
  QLabel* banner_;
  QLabel* live_;
  QProgressBar* progress_;
  QPushButton* run_;
  QPushButton* stop_;
  QPushButton* open_;
  QElapsedTimer elapsed_;
  int total_steps_ = 0;
};

}  // namespace behemoth::ui
