#include "ui/history_service.h"

#include <QtConcurrent/QtConcurrentRun>

namespace behemoth::ui {

HistoryListing listHistory(const QString& path, int busy_timeout_ms) {
  HistoryListing listing;
  try {
    HistoryStore store(path.toStdString(), busy_timeout_ms);
    store.markLostRuns();  // a run whose launcher vanished is lost, not running forever
    listing.runs = store.listRuns();
  } catch (const std::exception& error) {
    listing.error = QString::fromStdString(error.what());
  }
  return listing;
}

HistoryDetails loadRuns(const QString& path, const std::vector<std::int64_t>& ids, int busy_timeout_ms) {
  HistoryDetails details;
  try {
    HistoryStore store(path.toStdString(), busy_timeout_ms);
    store.markLostRuns();
    for (std::int64_t id : ids) {
      std::optional<RunDetails> run = store.getRun(id);
      if (!run) throw std::runtime_error("run " + std::to_string(id) + " is not in the history any more");
      details.runs.push_back(std::move(*run));
    }
  } catch (const std::exception& error) {
    details.runs.clear();
    details.error = QString::fromStdString(error.what());
  }
  return details;
}

HistoryService::HistoryService(QObject* parent) : QObject(parent) {
  connect(&list_watcher_, &QFutureWatcher<HistoryListing>::finished, this, [this] {
    if (refresh_pending_) {
      refresh_pending_ = false;
      refresh();  // the database changed since this listing started
      return;
    }
    emit listed(list_watcher_.result());
  });
}

HistoryService::~HistoryService() {
  list_watcher_.waitForFinished();
  for (auto& watcher : fetches_) watcher->waitForFinished();
  for (auto& watcher : writes_) watcher->waitForFinished();
}

bool HistoryService::busy() const {
  if (list_watcher_.isRunning() || refresh_pending_) return true;
  for (const auto& watcher : fetches_) {
    if (watcher->isRunning()) return true;
  }
  for (const auto& watcher : writes_) {
    if (watcher->isRunning()) return true;
  }
  return false;
}

void HistoryService::refresh() {
  if (list_watcher_.isRunning()) {
    refresh_pending_ = true;
    return;
  }
  list_watcher_.setFuture(QtConcurrent::run(listHistory, path_, busy_timeout_ms_));
}

void HistoryService::fetch(const std::vector<std::int64_t>& ids, int purpose) {
  auto watcher = std::make_unique<QFutureWatcher<HistoryDetails>>();
  QFutureWatcher<HistoryDetails>* raw = watcher.get();
  connect(raw, &QFutureWatcher<HistoryDetails>::finished, this, [this, raw, purpose] {
    const HistoryDetails details = raw->result();
    emit fetched(details, purpose);
    raw->deleteLater();
    for (auto& owned : fetches_) {
      if (owned.get() == raw) owned.release();  // deleteLater owns it now
    }
    fetches_.erase(std::remove(fetches_.begin(), fetches_.end(), nullptr), fetches_.end());
  });
  raw->setFuture(QtConcurrent::run(loadRuns, path_, ids, busy_timeout_ms_));
  fetches_.push_back(std::move(watcher));
}

void HistoryService::runWrite(std::function<void(HistoryStore&)> write) {
  auto watcher = std::make_unique<QFutureWatcher<QString>>();
  QFutureWatcher<QString>* raw = watcher.get();
  connect(raw, &QFutureWatcher<QString>::finished, this, [this, raw] {
    const QString error = raw->result();
    if (!error.isEmpty()) emit failed(error);
    raw->deleteLater();
    for (auto& owned : writes_) {
      if (owned.get() == raw) owned.release();
    }
    writes_.erase(std::remove(writes_.begin(), writes_.end(), nullptr), writes_.end());
    refresh();
  });
  const QString path = path_;
  const int timeout = busy_timeout_ms_;
  raw->setFuture(QtConcurrent::run([path, timeout, write = std::move(write)] {
    try {
      HistoryStore store(path.toStdString(), timeout);
      write(store);
      return QString();
    } catch (const std::exception& error) {
      return QString::fromStdString(error.what());
    }
  }));
  writes_.push_back(std::move(watcher));
}

void HistoryService::remove(std::int64_t id) {
  runWrite([id](HistoryStore& store) {
    if (!store.deleteRun(id)) throw std::runtime_error("run " + std::to_string(id) + " is not in the history");
  });
}

void HistoryService::setTags(std::int64_t id, const std::vector<std::string>& tags) {
  runWrite([id, tags](HistoryStore& store) { store.setTags(id, tags); });
}

}  // namespace behemoth::ui
