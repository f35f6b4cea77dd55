// One streamed completion at a time against a `behemoth serve` server: POST /v1/completions with
// stream true, each piece of text emitted the moment its event arrives, then the finish reason;
// a refusal (4xx/503) comes back as the server's one-line message.
#pragma once

#include <QNetworkAccessManager>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QStringList>
#include <QUrl>

#include <nlohmann/json.hpp>
#include <optional>

#include "ui/serve_event_stream.h"

class QNetworkReply;

namespace behemoth::ui {

struct CompletionSettings {
  QString prompt;
  int max_tokens = 64;
  double temperature = 0.0;  // 0: greedy
  int top_k = 0;             // 0: off
  double top_p = 1.0;        // 1: off
  std::optional<qint64> seed;
  QStringList stop;
};

// The request body (docs/serving.md); `stream` false is what a plain client sends.
nlohmann::json completionBody(const CompletionSettings& settings, bool stream);
// The server's message in an error answer ({"error": {"message": ...}}), else the body itself.
QString serverErrorMessage(const QByteArray& body);

class ServeCompletionClient : public QObject {
  Q_OBJECT

 public:
  explicit ServeCompletionClient(QObject* parent = nullptr);
  ~ServeCompletionClient() override;

  // Starts a streamed completion at SERVER (http://host:port). Returns false while one runs.
  bool send(const QUrl& server, const CompletionSettings& settings);
  // Drops the request; the server sees its client leave and frees the sequence.
  void cancel();
  bool busy() const { return !reply_.isNull(); }
  // Everything the current (or last) request streamed so far.
  const QString& text() const { return text_; }
  int pieces() const { return pieces_; }

 signals:
  void pieceReceived(const QString& piece);
  // "stop" or "length", once the stream has said [DONE].
  void finished(const QString& finish_reason);
  void failed(const QString& message);

 private:
  void readEvents();
  void replyFinished();
  bool takeEvent(const std::string& data);  // false: the event was malformed (reported)

  QNetworkAccessManager network_;
  QPointer<QNetworkReply> reply_;
  ServeEventStream events_;
  QByteArray error_body_;
  QString text_;
  QString finish_reason_;
  QString malformed_;
  int pieces_ = 0;
  bool done_ = false;
};

}  // namespace behemoth::ui
