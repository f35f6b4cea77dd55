// Runs analyzeProject off the UI thread. Requests coalesce: while one analysis runs, only the
// newest pending request is kept, so a burst of edits costs at most two analyses and the
// window never waits for one.
#pragma once

#include <QFutureWatcher>
#include <QObject>
#include <QString>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "ui/project_analysis.h"

namespace behemoth::ui {

using AnalysisPtr = std::shared_ptr<const ProjectAnalysis>;

class EstimateService : public QObject {
  Q_OBJECT

 public:
  explicit EstimateService(QObject* parent = nullptr);
  ~EstimateService() override;

  void request(const nlohmann::json& project, const QString& base_dir);
  // The newest finished analysis (null before the first).
  AnalysisPtr latest() const { return latest_; }
  bool busy() const { return running_; }
  // Milliseconds the newest analysis took (worker thread, wall clock).
  double lastMilliseconds() const { return last_ms_; }
  // Whether the newest analysis ran on the thread that requested it (the UI thread): never, by
  // design; the tests assert it.
  bool lastRanOnRequestingThread() const { return last_on_requesting_thread_; }
  // Analyses started so far (coalesced requests never start one).
  int analysesStarted() const { return started_; }

 signals:
  void analysisReady(behemoth::ui::AnalysisPtr analysis);

 private:
  struct Job {
    nlohmann::json project;
    std::string base_dir;
  };
  struct Result {
    AnalysisPtr analysis;
    double milliseconds = 0;
    bool on_requesting_thread = false;
  };
  void start(Job job);
  void finished();

  QFutureWatcher<Result> watcher_;
  std::optional<Job> pending_;
  bool running_ = false;
  AnalysisPtr latest_;
  double last_ms_ = 0;
  bool last_on_requesting_thread_ = false;
  int started_ = 0;
};

}  // namespace behemoth::ui
