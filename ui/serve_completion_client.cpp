#include "ui/serve_completion_client.h"

#include <QNetworkReply>
#include <QNetworkRequest>

namespace behemoth::ui {
namespace {

// Only against hangs: a token of a tiny model takes milliseconds, of a big one on CPU seconds.
constexpr int kTransferTimeoutMs = 120000;

}  // namespace

nlohmann::json completionBody(const CompletionSettings& settings, bool stream) {
  nlohmann::json body = {{"prompt", settings.prompt.toStdString()},
                         {"max_tokens", settings.max_tokens},
                         {"temperature", settings.temperature},
                         {"top_k", settings.top_k},
                         {"top_p", settings.top_p},
                         {"stream", stream}};
  if (settings.seed) body["seed"] = *settings.seed;
  if (!settings.stop.isEmpty()) {
    nlohmann::json stop = nlohmann::json::array();
    for (const QString& s : settings.stop) stop.push_back(s.toStdString());
    body["stop"] = stop;
  }
  return body;
}

QString serverErrorMessage(const QByteArray& body) {
  const nlohmann::json parsed = nlohmann::json::parse(body.constData(), body.constData() + body.size(), nullptr, false);
  if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object() && parsed["error"].contains("message") &&
      parsed["error"]["message"].is_string()) {
    return QString::fromStdString(parsed["error"]["message"].get<std::string>());
  }
  return QString::fromUtf8(body).trimmed();
}

ServeCompletionClient::ServeCompletionClient(QObject* parent) : QObject(parent) {}

ServeCompletionClient::~ServeCompletionClient() {
  // No signal may reach a half-destroyed client.
  if (reply_) {
    reply_->disconnect(this);
    reply_->abort();
  }
}

bool ServeCompletionClient::send(const QUrl& server, const CompletionSettings& settings) {
  if (busy()) return false;
  events_ = ServeEventStream{};
  error_body_.clear();
  text_.clear();
  finish_reason_.clear();
  malformed_.clear();
  pieces_ = 0;
  done_ = false;
  QUrl url = server;
  url.setPath(QStringLiteral("/v1/completions"));
  QNetworkRequest request(url);
  request.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
  request.setRawHeader("Accept", "text/event-stream");
  request.setTransferTimeout(kTransferTimeoutMs);
  const std::string body = completionBody(settings, true).dump();
  reply_ = network_.post(request, QByteArray::fromStdString(body));
  connect(reply_, &QNetworkReply::readyRead, this, &ServeCompletionClient::readEvents);
  connect(reply_, &QNetworkReply::finished, this, &ServeCompletionClient::replyFinished);
  return true;
}

void ServeCompletionClient::cancel() {
  if (reply_) reply_->abort();  // finished() follows, with OperationCanceledError
}

void ServeCompletionClient::readEvents() {
  const QByteArray bytes = reply_->readAll();
  const int status = reply_->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
  if (status != 200) {  // a refusal: its JSON body is the message
    error_body_ += bytes;
    return;
  }
  for (const std::string& data : events_.feed(bytes.toStdString())) {
    if (!takeEvent(data)) {
      reply_->abort();
      return;
    }
  }
}

bool ServeCompletionClient::takeEvent(const std::string& data) {
  if (data == "[DONE]") {
    done_ = true;
    return true;
  }
  const nlohmann::json event = nlohmann::json::parse(data, nullptr, false);
  const bool has_choice = event.is_object() && event.contains("choices") && event["choices"].is_array() &&
                          !event["choices"].empty() && event["choices"][0].is_object();
  if (!has_choice || !event["choices"][0].value("text", nlohmann::json()).is_string()) {
    malformed_ = tr("The server sent an event the Studio cannot read: %1").arg(QString::fromStdString(data.substr(0, 200)));
    return false;
  }
  const nlohmann::json& choice = event["choices"][0];
  const QString piece = QString::fromStdString(choice["text"].get<std::string>());
  if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) {
    finish_reason_ = QString::fromStdString(choice["finish_reason"].get<std::string>());
  }
  if (!piece.isEmpty()) {
    text_ += piece;
    ++pieces_;
    emit pieceReceived(piece);
  }
  return true;
}

void ServeCompletionClient::replyFinished() {
  if (reply_->bytesAvailable() > 0 && reply_->error() == QNetworkReply::NoError) readEvents();
  QNetworkReply* reply = reply_;
  if (!reply) return;  // readEvents() aborted it; that abort already finished it
  reply_.clear();
  reply->deleteLater();
  const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
  if (!malformed_.isEmpty()) {
    emit failed(malformed_);
  } else if (status >= 400) {
    error_body_ += reply->readAll();
    emit failed(tr("HTTP %1: %2").arg(status).arg(serverErrorMessage(error_body_)));
  } else if (reply->error() == QNetworkReply::OperationCanceledError) {
    emit failed(tr("Cancelled."));
  } else if (reply->error() != QNetworkReply::NoError) {
    emit failed(reply->errorString());
  } else if (!done_ || finish_reason_.isEmpty()) {
    emit failed(tr("The stream ended without a finish reason."));
  } else {
    emit finished(finish_reason_);
  }
}

}  // namespace behemoth::ui
