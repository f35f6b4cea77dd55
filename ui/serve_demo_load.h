// Traffic for the Serve page's screenshot: a few streaming clients and one plain (non-streaming)
// client that each send the next prompt as soon as their answer ends, so the charts show a
// server under a real, varied load. Stops sending when destroyed (open requests are dropped).
#pragma once

#include <QNetworkAccessManager>
#include <QObject>
#include <QUrl>

#include <memory>
#include <vector>

namespace behemoth::ui {

class ServeCompletionClient;

class ServeDemoLoad : public QObject {
  Q_OBJECT

 public:
  ServeDemoLoad(const QUrl& server, int streaming_clients, QObject* parent = nullptr);
  ~ServeDemoLoad() override;

  int answered() const { return answered_; }
  int failures() const { return failures_; }

 private:
  void sendStreamed(ServeCompletionClient* client);
  void sendPlain();

  QUrl server_;
  QNetworkAccessManager network_;
  std::vector<std::unique_ptr<ServeCompletionClient>> clients_;
  int sent_ = 0;
  int answered_ = 0;
  int failures_ = 0;
  bool stopping_ = false;
};

}  // namespace behemoth::ui
