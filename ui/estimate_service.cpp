#include "ui/estimate_service.h"

#include <QThread>
#include <QtConcurrent/QtConcurrentRun>

#include <chrono>

namespace behemoth::ui {

EstimateService::EstimateService(QObject* parent) : QObject(parent) {
  qRegisterMetaType<AnalysisPtr>("behemoth::ui::AnalysisPtr");
  connect(&watcher_, &QFutureWatcher<Result>::finished, this, &EstimateService::finished);
}

EstimateService::~EstimateService() { watcher_.waitForFinished(); }

void EstimateService::request(const nlohmann::json& project, const QString& base_dir) {
  Job job{project, base_dir.toStdString()};
  if (running_) {
    pending_ = std::move(job);
    return;
  }
  start(std::move(job));
}

void EstimateService::start(Job job) {
  running_ = true;
  ++started_;
  QThread* const requester = QThread::currentThread();
  watcher_.setFuture(QtConcurrent::run([job = std::move(job), requester] {
    const auto begin = std::chrono::steady_clock::now();
    auto analysis = std::make_shared<const ProjectAnalysis>(analyzeProject(job.project, job.base_dir));
    const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - begin;
    return Result{std::move(analysis), took.count(), QThread::currentThread() == requester};
  }));
}

void EstimateService::finished() {
  running_ = false;
  const Result result = watcher_.result();
  if (pending_) {
    // A newer edit is waiting: this result is already stale.
    Job next = std::move(*pending_);
    pending_.reset();
    start(std::move(next));
    return;
  }
  latest_ = result.analysis;
  last_ms_ = result.milliseconds;
  last_on_requesting_thread_ = result.on_requesting_thread;
  emit analysisReady(latest_);
}

}  // namespace behemoth::ui
