// A `behemoth serve INPUT --port 0` child process: starts it, waits for its ready line
// ("serving NAME on http://HOST:PORT (tp N, KV blocks B)"), scrapes GET /metrics every 500 ms while
// it serves, and stops it (SIGTERM, SIGKILL after a grace period). An input the engine refuses
// ends it before it serves, with the engine's one-line `behemoth: ...` message.
#pragma once

#include <QElapsedTimer>
#include <QNetworkAccessManager>
#include <QObject>
#include <QPointer>
#include <QProcess>
#include <QString>
#include <QStringList>
#include <QTimer>
#include <QUrl>

#include "ui/serve_metrics_reader.h"

class QNetworkReply;

namespace behemoth::ui {

class ServeController : public QObject {
  Q_OBJECT

 public:
  enum class State { idle, starting, serving, stopping };

  static constexpr int kScrapeIntervalMs = 500;

  explicit ServeController(QObject* parent = nullptr);
  ~ServeController() override;

  // The arguments of `behemoth serve` for INPUT (a project file, a checkpoint or out_dir, or a
  // Hugging Face directory) on a free loopback port.
  static QStringList serveArguments(const QString& input, int nproc);
  // Starts PROGRAM serve INPUT in WORKDIR. Returns false (and emits failed) when it cannot start.
  bool start(const QString& program, const QString& input, int nproc, const QString& working_dir);
  void stop();

  State state() const { return state_; }
  bool isRunning() const { return state_ != State::idle; }
  // Known once ready: http://127.0.0.1:PORT, the served name, tp and the KV blocks of the pool.
  const QUrl& url() const { return url_; }
  const QString& modelName() const { return model_name_; }
  int tensorParallel() const { return tensor_parallel_; }
  int kvBlocks() const { return kv_blocks_; }
  const QString& program() const { return program_; }
  const QStringList& arguments() const { return arguments_; }
  qint64 processId() const { return process_.processId(); }
  int scrapes() const { return scrapes_; }

 signals:
  void ready(const QUrl& url);
  // A /metrics answer, `seconds` after the server became ready.
  void metricsScraped(const behemoth::ui::MetricsScrape& scrape, double seconds);
  void logLine(const QString& line, bool is_error);
  // The server ended: after stop() (`failed` false), or on its own: a refused input, a crash.
  void ended(bool failed, const QString& message);

 private:
  void readStdout();
  void readStderr();
  void handleStdoutLine(const QString& line);
  void processFinished(int exit_code, QProcess::ExitStatus status);
  void scrape();
  void scrapeFinished();

  QProcess process_;
  QString program_;
  QStringList arguments_;
  QTimer kill_timer_;
  QTimer scrape_timer_;
  QNetworkAccessManager network_;
  QPointer<QNetworkReply> scrape_reply_;
  QElapsedTimer since_ready_;
  State state_ = State::idle;
  QByteArray stdout_buffer_;
  QByteArray stderr_buffer_;
  QString engine_error_;     // the last `behemoth: ...` line on stderr
  QStringList last_errors_;  // the last stderr lines, for a crash message
  QString scrape_error_;     // the last /metrics failure, reported once
  QUrl url_;
  QString model_name_;
  int tensor_parallel_ = 0;
  int kv_blocks_ = 0;
  int scrapes_ = 0;
};

}  // namespace behemoth::ui
