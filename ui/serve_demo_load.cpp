#include "ui/serve_demo_load.h"

#include <QNetworkReply>
#include <QNetworkRequest>

#include <array>

#include "ui/serve_completion_client.h"

namespace behemoth::ui {
namespace {

// Openings of the kinds of text the builtin corpus holds (licences and C++ headers), which a tiny
// model trained on it continues best.
constexpr std::array<const char*, 6> kPrompts = {"/**\n *  @brief  Returns", "template<typename _Tp>\n", "This program is free",
                                                 "#include <", "  for (size_t __i = 0;", "The licence"};

// Request n's settings: 16 to 95 tokens (a prompt and its answer fit a seq_len of 128), greedy or
// seeded sampling, so latencies spread.
CompletionSettings settingsFor(int n) {
  CompletionSettings settings;
  settings.prompt = QString::fromUtf8(kPrompts[static_cast<std::size_t>(n) % kPrompts.size()]);
  settings.max_tokens = 16 + (n * 29) % 80;
  settings.temperature = n % 3 == 0 ? 0.0 : 0.9;
  settings.seed = n;
  return settings;
}

}  // namespace

ServeDemoLoad::ServeDemoLoad(const QUrl& server, int streaming_clients, QObject* parent) : QObject(parent), server_(server) {
  for (int i = 0; i < streaming_clients; ++i) {
    clients_.push_back(std::make_unique<ServeCompletionClient>());
    ServeCompletionClient* client = clients_.back().get();
    connect(client, &ServeCompletionClient::finished, this, [this, client] {
      ++answered_;
      sendStreamed(client);
    });
    connect(client, &ServeCompletionClient::failed, this, [this] { ++failures_; });
    sendStreamed(client);
  }
  sendPlain();
}

ServeDemoLoad::~ServeDemoLoad() { stopping_ = true; }

void ServeDemoLoad::sendStreamed(ServeCompletionClient* client) {
  if (!stopping_) client->send(server_, settingsFor(sent_++));
}

void ServeDemoLoad::sendPlain() {
  if (stopping_) return;
  QUrl url = server_;
  url.setPath(QStringLiteral("/v1/completions"));
  QNetworkRequest request(url);
  request.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
  QNetworkReply* reply = network_.post(request, QByteArray::fromStdString(completionBody(settingsFor(sent_++), false).dump()));
  connect(reply, &QNetworkReply::finished, this, [this, reply] {
    reply->deleteLater();
    if (reply->error() != QNetworkReply::NoError) {
      ++failures_;  // not sent again: the server may be gone
      return;
    }
    ++answered_;
    sendPlain();
  });
}

}  // namespace behemoth::ui
