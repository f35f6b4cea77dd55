// A `behemoth run PROJECT --events` child process: starts it, reads its JSON event lines (parsed on
// a thread of their own, EventLineStream, and delivered here in order), stops it, and turns how it
// ended (completed, stopped, failed, crashed) into one message for people, after its last event.
#pragma once

#include <QObject>
#include <QProcess>
#include <QString>
#include <QStringList>
#include <QTimer>

#include <nlohmann/json.hpp>

#include "ui/event_line_parser.h"

namespace behemoth::ui {

class RunController : public QObject {
  Q_OBJECT

 public:
  enum class State { idle, running, stopping };
  enum class Ending { completed, stopped, failed, crashed };

  explicit RunController(QObject* parent = nullptr);
  ~RunController() override;

  // `behemoth` next to the running executable, else on PATH.
  static QString defaultEngine();

  // Starts PROGRAM ARGS in WORKDIR. Returns false (and emits ended(failed, ...)) when it cannot start.
  bool start(const QString& program, const QStringList& arguments, const QString& working_dir);
  // SIGTERM (the engine stops cleanly and exits 130); SIGKILL after a grace period.
  void stop();
  State state() const { return state_; }
  bool isRunning() const { return state_ != State::idle; }
  int lastStep() const { return last_step_; }
  // The program and arguments of the latest start() (what the Studio asked the engine to do).
  const QString& program() const { return program_; }
  const QStringList& arguments() const { return arguments_; }

 signals:
  void started();
  void eventReceived(const nlohmann::json& event);
  void logLine(const QString& line, bool is_error);
  void ended(behemoth::ui::RunController::Ending ending, const QString& message);

 private:
  void readStdout();
  void readStderr();
  void processFinished(int exit_code, QProcess::ExitStatus status);
  void handleEvent(const nlohmann::json& event);
  // Once every line the process wrote has been handled: how it ended.
  void reportEnding(int generation);

  EventLineStream lines_;
  QProcess process_;
  int generation_ = 0;  // start() counts; a drain from an earlier process is ignored
  int exit_code_ = 0;
  QProcess::ExitStatus exit_status_ = QProcess::NormalExit;
  QString program_;
  QStringList arguments_;
  QTimer kill_timer_;
  State state_ = State::idle;
  QByteArray stdout_buffer_;
  QByteArray stderr_buffer_;
  QString failure_;        // run_failed's error
  QString finished_outcome_;  // run_finished's outcome
  QStringList last_errors_;   // the last stderr lines, for a crash message
  int last_step_ = -1;
};

}  // namespace behemoth::ui
