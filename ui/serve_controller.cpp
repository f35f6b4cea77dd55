#include "ui/serve_controller.h"

#include <QNetworkReply>
#include <QNetworkRequest>
#include <QRegularExpression>

namespace behemoth::ui {
namespace {

// The launcher gives serving ranks 10 s to leave their collectives; the Studio waits a little more.
constexpr int kStopGraceMs = 15000;
constexpr int kScrapeTimeoutMs = 5000;
constexpr int kErrorLinesKept = 6;

// The one line `behemoth serve` prints when it listens (backend/serve/serve_rank.cpp); a project's
// name may hold spaces.
const QRegularExpression& readyLine() {
  static const QRegularExpression pattern(
      QStringLiteral(R"(^serving (.+) on (http://\S+) \(tp (\d+), KV blocks (\d+)\)$)"));
  return pattern;
}

}  // namespace

ServeController::ServeController(QObject* parent) : QObject(parent) {
  kill_timer_.setSingleShot(true);
  connect(&kill_timer_, &QTimer::timeout, &process_, &QProcess::kill);
  scrape_timer_.setInterval(kScrapeIntervalMs);
  connect(&scrape_timer_, &QTimer::timeout, this, &ServeController::scrape);
  connect(&process_, &QProcess::readyReadStandardOutput, this, &ServeController::readStdout);
  connect(&process_, &QProcess::readyReadStandardError, this, &ServeController::readStderr);
  connect(&process_, &QProcess::finished, this, &ServeController::processFinished);
  connect(&process_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
    if (error != QProcess::FailedToStart || state_ == State::idle) return;
    state_ = State::idle;
    emit ended(true, tr("Could not start the engine %1: %2").arg(process_.program(), process_.errorString()));
  });
}

ServeController::~ServeController() {
  scrape_timer_.stop();
  if (scrape_reply_) {
    scrape_reply_->disconnect(this);
    scrape_reply_->abort();
  }
  // The Studio is closing: the server must not outlive it.
  if (process_.state() != QProcess::NotRunning) {
    process_.disconnect(this);
    process_.terminate();
    if (!process_.waitForFinished(kStopGraceMs)) process_.kill();
    process_.waitForFinished(2000);
  }
}

QStringList ServeController::serveArguments(const QString& input, int nproc) {
  QStringList arguments = {QStringLiteral("serve"), input, QStringLiteral("--port"), QStringLiteral("0")};
  if (nproc > 1) arguments << QStringLiteral("--nproc") << QString::number(nproc);
  return arguments;
}

bool ServeController::start(const QString& program, const QString& input, int nproc, const QString& working_dir) {
  if (isRunning()) return false;
  program_ = program;
  arguments_ = serveArguments(input, nproc);
  stdout_buffer_.clear();
  stderr_buffer_.clear();
  engine_error_.clear();
  last_errors_.clear();
  scrape_error_.clear();
  url_.clear();
  model_name_.clear();
  tensor_parallel_ = 0;
  kv_blocks_ = 0;
  scrapes_ = 0;
  process_.setWorkingDirectory(working_dir);
  state_ = State::starting;
  process_.start(program_, arguments_);
  if (!process_.waitForStarted(5000)) {
    if (state_ != State::idle) {
      state_ = State::idle;
      emit ended(true, tr("Could not start the engine %1: %2").arg(program_, process_.errorString()));
    }
    return false;
  }
  return true;
}

void ServeController::stop() {
  if (state_ != State::starting && state_ != State::serving) return;
  state_ = State::stopping;
  scrape_timer_.stop();
  process_.terminate();  // SIGTERM: the server stops listening and ends its requests
  kill_timer_.start(kStopGraceMs);
}

void ServeController::readStdout() {
  stdout_buffer_ += process_.readAllStandardOutput();
  int newline;
  while ((newline = stdout_buffer_.indexOf('\n')) >= 0) {
    const QString line = QString::fromUtf8(stdout_buffer_.left(newline)).trimmed();
    stdout_buffer_.remove(0, newline + 1);
    if (!line.isEmpty()) handleStdoutLine(line);
  }
}

void ServeController::handleStdoutLine(const QString& line) {
  emit logLine(line, false);
  const QRegularExpressionMatch match = readyLine().match(line);
  if (!match.hasMatch() || state_ != State::starting) return;
  model_name_ = match.captured(1);
  url_ = QUrl(match.captured(2));
  tensor_parallel_ = match.captured(3).toInt();
  kv_blocks_ = match.captured(4).toInt();
  state_ = State::serving;
  since_ready_.start();
  scrape_timer_.start();
  emit ready(url_);
  scrape();  // the first point now, not in 500 ms
}

void ServeController::readStderr() {
  stderr_buffer_ += process_.readAllStandardError();
  int newline;
  while ((newline = stderr_buffer_.indexOf('\n')) >= 0) {
    const QString line = QString::fromUtf8(stderr_buffer_.left(newline)).trimmed();
    stderr_buffer_.remove(0, newline + 1);
    if (line.isEmpty()) continue;
    // The engine's errors are one `behemoth: ...` line; where the weights come from is not one.
    if (line.startsWith(QLatin1String("behemoth: ")) && !line.startsWith(QLatin1String("behemoth: serving weights"))) {
      engine_error_ = line.mid(int(sizeof("behemoth: ")) - 1);
    }
    last_errors_.append(line);
    if (last_errors_.size() > kErrorLinesKept) last_errors_.removeFirst();
    emit logLine(line, true);
  }
}

void ServeController::processFinished(int exit_code, QProcess::ExitStatus status) {
  kill_timer_.stop();
  scrape_timer_.stop();
  readStdout();
  readStderr();
  if (!stderr_buffer_.isEmpty()) {  // a last line without its newline
    stderr_buffer_ += '\n';
    readStderr();
  }
  const State was = state_;
  state_ = State::idle;
  if (was == State::stopping) {
    emit ended(false, tr("Server stopped."));
  } else if (!engine_error_.isEmpty() && status == QProcess::NormalExit && exit_code != 0) {
    emit ended(true, engine_error_);
  } else if (status == QProcess::CrashExit) {
    emit ended(true, tr("The server crashed (killed by a signal).%1")
                         .arg(last_errors_.isEmpty() ? QString() : QStringLiteral(" ") + last_errors_.last()));
  } else {
    emit ended(true, tr("The server exited with code %1%2").arg(exit_code).arg(
                         last_errors_.isEmpty() ? QStringLiteral(".") : QStringLiteral(": ") + last_errors_.last()));
  }
}

void ServeController::scrape() {
  if (state_ != State::serving || scrape_reply_) return;  // one scrape at a time: a slow server skips ticks
  QUrl url = url_;
  url.setPath(QStringLiteral("/metrics"));
  QNetworkRequest request(url);
  request.setTransferTimeout(kScrapeTimeoutMs);
  scrape_reply_ = network_.get(request);
  connect(scrape_reply_, &QNetworkReply::finished, this, &ServeController::scrapeFinished);
}

void ServeController::scrapeFinished() {
  QNetworkReply* reply = scrape_reply_;
  scrape_reply_.clear();
  if (!reply) return;
  reply->deleteLater();
  if (state_ != State::serving) return;
  const double seconds = since_ready_.elapsed() / 1000.0;
  QString problem;
  if (reply->error() != QNetworkReply::NoError) {
    problem = tr("GET /metrics: %1").arg(reply->errorString());
  } else {
    try {
      const MetricsScrape scrape = parsePrometheusText(reply->readAll().toStdString());
      ++scrapes_;
      scrape_error_.clear();
      emit metricsScraped(scrape, seconds);
      return;
    } catch (const std::invalid_argument& error) {
      problem = tr("GET /metrics: %1").arg(QString::fromStdString(error.what()));
    }
  }
  if (problem != scrape_error_) emit logLine(problem, true);  // once, not every 500 ms
  scrape_error_ = problem;
}

}  // namespace behemoth::ui
