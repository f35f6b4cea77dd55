// The run history for the Studio: every query runs off the UI thread (a locked database waits
// for its busy timeout there, not in the window), and every failure comes back as a message.
#pragma once

#include <QFutureWatcher>
#include <QObject>
#include <QString>

#include <functional>
#include <memory>
#include <vector>

#include "backend/history/history_store.h"

namespace behemoth::ui {

struct HistoryListing {
  std::vector<RunRecord> runs;
  QString error;  // empty on success
};

struct HistoryDetails {
  std::vector<RunDetails> runs;  // in the order asked
  QString error;
};

// Synchronous helpers (used by the service's workers and by the screenshot mode). Both first mark
// runs whose launcher vanished as lost (HistoryStore::markLostRuns).
HistoryListing listHistory(const QString& path, int busy_timeout_ms);
HistoryDetails loadRuns(const QString& path, const std::vector<std::int64_t>& ids, int busy_timeout_ms);

class HistoryService : public QObject {
  Q_OBJECT

 public:
  explicit HistoryService(QObject* parent = nullptr);
  ~HistoryService() override;

  void setPath(const QString& path) { path_ = path; }
  const QString& path() const { return path_; }
  void setBusyTimeoutMs(int ms) { busy_timeout_ms_ = ms; }

  void refresh();
  void fetch(const std::vector<std::int64_t>& ids, int purpose);
  void remove(std::int64_t id);
  void setTags(std::int64_t id, const std::vector<std::string>& tags);
  bool busy() const;

 signals:
  void listed(const behemoth::ui::HistoryListing& listing);
  void fetched(const behemoth::ui::HistoryDetails& details, int purpose);
  void failed(const QString& message);

 private:
  void runWrite(std::function<void(HistoryStore&)> write);

  QString path_;
  int busy_timeout_ms_ = 1500;
  QFutureWatcher<HistoryListing> list_watcher_;
  bool refresh_pending_ = false;  // a refresh asked for while one ran: run it when that one lands
  std::vector<std::unique_ptr<QFutureWatcher<HistoryDetails>>> fetches_;
  std::vector<std::unique_ptr<QFutureWatcher<QString>>> writes_;
};

}  // namespace behemoth::ui
