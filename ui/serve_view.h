// Serve: starts `behemoth serve` for the current project, a run's checkpoints from the history or
// a folder chosen on disk; says where it listens; sends a prompt and shows the answer as its
// tokens stream in; charts the server's /metrics live. A server the engine refuses shows the
// engine's one-line message in a banner.
#pragma once

#include <QElapsedTimer>
#include <QWidget>

#include <vector>

#include "backend/history/history_store.h"

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPalette;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QToolButton;

namespace behemoth::ui {

class ServeCharts;
class ServeCompletionClient;
class ServeController;
struct MetricsScrape;

class ServeView : public QWidget {
  Q_OBJECT

 public:
  explicit ServeView(QWidget* parent = nullptr);

  void setEngine(const QString& program) { engine_ = program; }
  const QString& engine() const { return engine_; }

  // The runs of the history whose out_dir holds checkpoints become sources (newest first).
  void setHistoryRuns(const std::vector<RunRecord>& runs);
  // Adds INPUT (a project file, checkpoint, out_dir or Hugging Face directory) as a source and
  // chooses it.
  void addSource(const QString& input);
  // The chosen source's path; empty for "the current project".
  QString chosenSource() const;

  // Starts `engine serve INPUT --port 0 [--nproc N]` in INPUT's folder.
  bool startServer(const QString& input);
  void stopServer();
  // Streams the prompt box's completion into the output box. False unless serving and idle.
  bool sendPrompt();

  ServeController* controller() const { return controller_; }
  ServeCompletionClient* client() const { return client_; }
  ServeCharts* charts() const { return charts_; }
  QComboBox* sourceBox() const { return source_; }
  QSpinBox* ranksBox() const { return ranks_; }
  QLabel* banner() const { return banner_; }
  QLabel* statusLabel() const { return status_; }
  QLabel* totalsLabel() const { return totals_; }
  QPlainTextEdit* promptBox() const { return prompt_; }
  QPlainTextEdit* outputBox() const { return output_; }
  QLabel* answerLabel() const { return answer_; }
  QSpinBox* maxTokensBox() const { return max_tokens_; }
  QDoubleSpinBox* temperatureBox() const { return temperature_; }
  QSpinBox* seedBox() const { return seed_; }
  QPushButton* startButton() const { return start_; }
  QPushButton* stopButton() const { return stop_; }
  QPushButton* sendButton() const { return send_; }
  void applyTheme(const QPalette& palette);

 signals:
  // Start with "the current project" chosen: the window saves it, then calls startServer.
  void currentProjectRequested();
  void statusMessage(const QString& text);

 private:
  void onStartClicked();
  void onReady();
  void onEnded(bool failed, const QString& message);
  void onScrape(const MetricsScrape& scrape, double seconds);
  void onPiece(const QString& piece);
  void onAnswerEnded(const QString& outcome, bool failed);
  void browse(bool folder);
  void showBanner(const QString& text, bool error);
  void updateButtons();

  QString engine_;
  ServeController* controller_;
  ServeCompletionClient* client_;
  ServeCharts* charts_;
  QComboBox* source_;
  QToolButton* browse_;
  QSpinBox* ranks_;
  QPushButton* start_;
  QPushButton* stop_;
  QLabel* status_;
  QLabel* banner_;
  QLabel* totals_;
  QPlainTextEdit* prompt_;
  QSpinBox* max_tokens_;
  QDoubleSpinBox* temperature_;
  QSpinBox* seed_;
  QPushButton* send_;
  QPushButton* cancel_;
  QPlainTextEdit* output_;
  QLabel* answer_;
  QPlainTextEdit* log_;
  QElapsedTimer answer_time_;
};

}  // namespace behemoth::ui
