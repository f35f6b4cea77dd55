#include "ui/run_controller.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>

#include "backend/metrics/events.h"

namespace behemoth::ui {
namespace {
// A stopped run writes a final checkpoint before it exits (train.checkpoint_final); the engine's
// launcher gives its workers 120 s for that, and the Studio waits as long before it kills.
constexpr int kStopGraceMs = 125000;
constexpr int kErrorLinesKept = 6;
}  // namespace

RunController::RunController(QObject* parent) : QObject(parent) {
  connect(lines_.parser(), &EventLineParser::parsed, this, &RunController::handleEvent);
  connect(lines_.parser(), &EventLineParser::text, this, [this](const QString& line) { emit logLine(line, false); });
  connect(lines_.parser(), &EventLineParser::drained, this, &RunController::reportEnding);
  kill_timer_.setSingleShot(true);
  connect(&kill_timer_, &QTimer::timeout, &process_, &QProcess::kill);
  connect(&process_, &QProcess::readyReadStandardOutput, this, &RunController::readStdout);
  connect(&process_, &QProcess::readyReadStandardError, this, &RunController::readStderr);
  connect(&process_, &QProcess::finished, this, &RunController::processFinished);
  connect(&process_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
    if (error != QProcess::FailedToStart) return;
    state_ = State::idle;
    emit ended(Ending::failed, QStringLiteral("Could not start the engine %1: %2").arg(process_.program(), process_.errorString()));
  });
}

RunController::~RunController() {
  if (process_.state() != QProcess::NotRunning) {
    process_.terminate();
    if (!process_.waitForFinished(3000)) process_.kill();
    process_.waitForFinished(1000);
  }
}

QString RunController::defaultEngine() {
  const QString beside = QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral("behemoth"));
  if (QFileInfo(beside).isExecutable()) return beside;
  const QString on_path = QStandardPaths::findExecutable(QStringLiteral("behemoth"));
  return on_path.isEmpty() ? beside : on_path;
}

bool RunController::start(const QString& program, const QStringList& arguments, const QString& working_dir) {
  if (isRunning()) return false;
  program_ = program;
  arguments_ = arguments;
  stdout_buffer_.clear();
  stderr_buffer_.clear();
  failure_.clear();
  finished_outcome_.clear();
  last_errors_.clear();
  last_step_ = -1;
  ++generation_;
  process_.setWorkingDirectory(working_dir);
  state_ = State::running;
  process_.start(program, arguments);
  if (!process_.waitForStarted(5000)) {
    if (state_ != State::idle) {
      state_ = State::idle;
      emit ended(Ending::failed, QStringLiteral("Could not start the engine %1: %2").arg(program, process_.errorString()));
    }
    return false;
  }
  emit started();
  return true;
}

void RunController::stop() {
  if (state_ != State::running) return;
  state_ = State::stopping;
  process_.terminate();
  kill_timer_.start(kStopGraceMs);
}

void RunController::readStdout() {
  stdout_buffer_ += process_.readAllStandardOutput();
  // Whole lines go to the parser thread; a partial last line waits for the rest.
  const qsizetype last_newline = stdout_buffer_.lastIndexOf('\n');
  if (last_newline < 0) return;
  lines_.give(stdout_buffer_.left(last_newline + 1));
  stdout_buffer_.remove(0, last_newline + 1);
}

void RunController::readStderr() {
  stderr_buffer_ += process_.readAllStandardError();
  int newline;
  while ((newline = stderr_buffer_.indexOf('\n')) >= 0) {
    const QString line = QString::fromUtf8(stderr_buffer_.left(newline));
    stderr_buffer_.remove(0, newline + 1);
    if (line.trimmed().isEmpty()) continue;
    last_errors_.append(line);
    if (last_errors_.size() > kErrorLinesKept) last_errors_.removeFirst();
    emit logLine(line, true);
  }
}

void RunController::handleEvent(const nlohmann::json& parsed) {
  const std::string type = eventType(parsed);
  if (type == event_type::kStep && parsed.contains("step") && parsed.at("step").is_number()) last_step_ = parsed.at("step").get<int>();
  if (type == event_type::kRunFailed) failure_ = QString::fromStdString(parsed.value("error", std::string("unknown error")));
  if (type == event_type::kRunFinished) finished_outcome_ = QString::fromStdString(parsed.value("outcome", std::string()));
  if (type == event_type::kLog) emit logLine(QString::fromStdString(parsed.value("text", std::string())), false);
  emit eventReceived(parsed);
}

void RunController::processFinished(int exit_code, QProcess::ExitStatus status) {
  kill_timer_.stop();
  readStdout();
  if (!stdout_buffer_.isEmpty()) lines_.give(stdout_buffer_);
  stdout_buffer_.clear();
  readStderr();
  exit_code_ = exit_code;
  exit_status_ = status;
  lines_.drain(generation_);
}

void RunController::reportEnding(int generation) {
  if (generation != generation_) return;
  const int exit_code = exit_code_;
  const QProcess::ExitStatus status = exit_status_;
  const bool was_stopping = state_ == State::stopping;
  state_ = State::idle;
  const QString where = last_step_ >= 0 ? QStringLiteral(" after step %1").arg(last_step_) : QStringLiteral(" before the first step");
  const QString tail = last_errors_.isEmpty() ? QString() : QStringLiteral("\nLast output:\n") + last_errors_.join('\n');

  if (status == QProcess::NormalExit && exit_code == 0 && failure_.isEmpty()) {
    emit ended(Ending::completed, QStringLiteral("Run completed%1.").arg(last_step_ >= 0 ? QStringLiteral(" at step %1").arg(last_step_) : QString()));
  } else if (was_stopping && (exit_code == 130 || status == QProcess::CrashExit || finished_outcome_ == "stopped")) {
    emit ended(Ending::stopped, QStringLiteral("Run stopped%1.").arg(where));
  } else if (!failure_.isEmpty()) {
    emit ended(Ending::failed, QStringLiteral("The run failed%1: %2").arg(where, failure_));
  } else if (status == QProcess::CrashExit) {
    emit ended(Ending::crashed, QStringLiteral("The engine crashed%1 (killed by a signal). Your project is unchanged.%2").arg(where, tail));
  } else {
    emit ended(Ending::crashed, QStringLiteral("The engine exited with code %1%2 without reporting an outcome. Your project is unchanged.%3")
                                    .arg(exit_code).arg(where, tail));
  }
}

}  // namespace behemoth::ui
