#include "ui/run_view.h"

#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSplitter>
#include <QStyle>
#include <QVBoxLayout>

#include <algorithm>

#include "backend/metrics/events.h"
#include "ui/chunk_panel.h"
#include "ui/icons.h"
#include "ui/metric_charts.h"
#include "ui/model_zoo.h"
#include "ui/trace_panel.h"

namespace behemoth::ui {

RunView::RunView(QWidget* parent)
    : QWidget(parent), engine_(RunController::defaultEngine()), controller_(new RunController(this)) {
  auto* layout = new QVBoxLayout(this);
  auto* bar = new QHBoxLayout;
  run_ = new QPushButton(glyphIcon(Glyph::run, Qt::white), tr("Run"), this);
  run_->setObjectName(QStringLiteral("primary"));
  run_->setToolTip(tr("Save the project and train it with the engine (F5)"));
  stop_ = new QPushButton(glyphIcon(Glyph::stop, QColor(0xEF, 0x44, 0x44)), tr("Stop"), this);
  stop_->setToolTip(tr("Stop the run cleanly (Shift+F5)"));
  open_ = new QPushButton(style()->standardIcon(QStyle::SP_DialogOpenButton), tr("Open metrics.jsonl…"), this);
  open_->setToolTip(tr("Show the curves of a recorded run"));
  title_ = new QLabel(tr("No run yet"), this);
  title_->setObjectName(QStringLiteral("sectionTitle"));
  progress_ = new QProgressBar(this);
  progress_->setMaximumWidth(260);
  progress_->setFormat(tr("step %v / %m"));
  progress_->setVisible(false);
  bar->addWidget(run_);
  bar->addWidget(stop_);
  bar->addWidget(open_);
  bar->addSpacing(12);
  bar->addWidget(title_, 1);
  bar->addWidget(progress_);
  layout->addLayout(bar);

  banner_ = new QLabel(this);
  banner_->setObjectName(QStringLiteral("banner"));
  banner_->setWordWrap(true);
  banner_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  banner_->setVisible(false);
  layout->addWidget(banner_);
  live_ = new QLabel(this);
  live_->setObjectName(QStringLiteral("hint"));
  layout->addWidget(live_);

  split_ = new QSplitter(Qt::Vertical, this);
  QSplitter* split = split_;
  charts_ = new MetricCharts(split);
  log_ = new QPlainTextEdit(split);
  log_->setReadOnly(true);
  log_->setMaximumBlockCount(5000);
  log_->setPlaceholderText(tr("Engine output appears here."));
  QFont mono(QStringLiteral("monospace"));
  mono.setStyleHint(QFont::Monospace);
  log_->setFont(mono);
  trace_ = new TracePanel(split);
  trace_->setVisible(false);
  chunks_ = new ChunkPanel(split);
  chunks_->setVisible(false);
  split->addWidget(charts_);
  split->addWidget(trace_);
  split->addWidget(chunks_);
  split->addWidget(log_);
  split->setStretchFactor(0, 5);
  split->setStretchFactor(1, 3);
  split->setStretchFactor(2, 3);
  split->setStretchFactor(3, 1);
  layout->addWidget(split, 1);

  connect(run_, &QPushButton::clicked, this, &RunView::runRequested);
  connect(stop_, &QPushButton::clicked, this, &RunView::stopRun);
  connect(open_, &QPushButton::clicked, this, &RunView::openMetricsRequested);
  connect(controller_, &RunController::eventReceived, this, &RunView::onEvent);
  connect(controller_, &RunController::logLine, this, [this](const QString& line, bool) { log_->appendPlainText(line); });
  connect(controller_, &RunController::ended, this, &RunView::onEnded);
  updateButtons();
}

void RunView::setLaunchBlocker(const QString& reason) {
  launch_blocker_ = reason;
  updateButtons();
}

void RunView::updateButtons() {
  const bool running = controller_->isRunning();
  run_->setEnabled(!running && launch_blocker_.isEmpty());
  run_->setToolTip(launch_blocker_.isEmpty() ? tr("Save the project and train it with the engine (F5)")
                                             : tr("Cannot run: %1").arg(launch_blocker_));
  stop_->setEnabled(running);
  open_->setEnabled(!running);
}

QStringList RunView::runArguments(const QString& project_path, int nproc, const QString& history_path,
                                  const QString& resume) {
  QStringList arguments = {QStringLiteral("run"), project_path, QStringLiteral("--events"), QStringLiteral("--nproc"),
                           QString::number(nproc)};
  if (!history_path.isEmpty()) arguments << QStringLiteral("--history") << history_path;
  if (!resume.isEmpty()) arguments << QStringLiteral("--resume") << resume;
  return arguments;
}

bool RunView::startRun(const QString& project_path, int nproc, double flops_per_token, const QString& resume) {
  banner_->setVisible(false);
  log_->clear();
  total_steps_ = 0;
  charts_->beginLive(QFileInfo(project_path).completeBaseName(), flops_per_token);
  trace_->clear();
  trace_->setVisible(false);
  chunks_->clear();
  chunks_->setVisible(false);
  title_->setText(resume.isEmpty() ? tr("Starting %1…").arg(QFileInfo(project_path).fileName())
                                   : tr("Resuming %1 from %2…").arg(QFileInfo(project_path).fileName(), QFileInfo(resume).fileName()));
  const QStringList arguments = runArguments(project_path, nproc, history_path_, resume);
  log_->appendPlainText(QStringLiteral("$ %1 %2").arg(engine_, arguments.join(' ')));
  elapsed_.start();
  const bool started = controller_->start(engine_, arguments, QFileInfo(project_path).absolutePath());
  updateButtons();
  return started;
}

void RunView::stopRun() {
  controller_->stop();
  title_->setText(tr("Stopping…"));
  updateButtons();
}

void RunView::showRecorded(RunSeries series, const QString& title) {
  banner_->setVisible(false);
  progress_->setVisible(false);
  title_->setText(title);
  const int steps = series.steps.size();
  live_->setText(steps > 0 ? tr("%1 logged steps, last step %2, final loss %3")
                                 .arg(steps)
                                 .arg(series.steps.last())
                                 .arg(series.loss.last(), 0, 'f', 4)
                           : tr("No logged steps."));
  charts_->setRuns({std::move(series)});
}

void RunView::showTrace(const QString& out_dir, const nlohmann::json& project) {
  const bool traced = trace_->showRun(out_dir, project);
  if (traced && trace_->isHidden()) {
    // Room for the timeline: charts, timeline and log share the height about 9 : 8 : 3.
    const int height = std::max(600, split_->height());
    split_->setSizes({height * 9 / 20, height * 8 / 20, chunks_->isVisible() ? height * 8 / 20 : 0, height * 3 / 20});
  }
  trace_->setVisible(traced);
}

void RunView::showChunks(const QString& out_dir, const nlohmann::json& project) {
  const bool recorded = chunks_->showRun(out_dir, project);
  if (recorded && chunks_->isHidden()) {
    // Room for the chunks: charts, chunks and log share the height about 8 : 9 : 3 (the
    // timeline, when shown, keeps its share).
    const int height = std::max(600, split_->height());
    split_->setSizes({height * 8 / 20, trace_->isVisible() ? height * 8 / 20 : 0, height * 9 / 20, height * 3 / 20});
  }
  chunks_->setVisible(recorded);
}

void RunView::onEvent(const nlohmann::json& event) {
  const std::string type = eventType(event);
  if (type == event_type::kRunStarted) {
    total_steps_ = event.value("total_steps", 0);
    progress_->setRange(0, std::max(1, total_steps_));
    progress_->setValue(0);
    progress_->setVisible(total_steps_ > 0);
    title_->setText(tr("Running %1 on %2 ranks (%3 parameters)")
                        .arg(QString::fromStdString(event.value("name", std::string())))
                        .arg(event.value("world_size", 1))
                        .arg(humanCount(double(event.value("parameter_count", std::int64_t{0})))));
    return;
  }
  if (type == event_type::kRunResumed) {
    const QString resumed = tr("resumed from step %1 (saved as %2)")
                        .arg(event.value("step", std::int64_t{0}))
                        .arg(QString::fromStdString(event.value("saved_layout", std::string("?"))));
    title_->setText(title_->text() + QStringLiteral(" — ") + resumed);
    log_->appendPlainText(tr("Resumed from %1").arg(QString::fromStdString(event.value("checkpoint", std::string()))));
  }
  if (type == event_type::kRunRestarted) {
    const std::string checkpoint = event.value("checkpoint", std::string());
    log_->appendPlainText(tr("Restart %1 of %2 after: %3 — %4")
                              .arg(event.value("restart", 0))
                              .arg(event.value("max_restarts", 0))
                              .arg(QString::fromStdString(event.value("reason", std::string())),
                                   checkpoint.empty() ? tr("no checkpoint yet, starting over")
                                                      : tr("from %1").arg(QString::fromStdString(checkpoint))));
  }
  RunSeries& series = charts_->liveSeries();
  const RunSeries::Added added = series.addEvent(event);
  if (added == RunSeries::Added::nothing) return;
  if (added == RunSeries::Added::rewound) {
    charts_->rebuildLive();  // the workers run the dropped steps again
    return;
  }
  charts_->syncLive();
  if (added == RunSeries::Added::step && !series.steps.isEmpty()) {
    progress_->setValue(int(series.steps.last()));
    live_->setText(tr("step %1 · loss %2 · %3 tokens/s · %4 ms/step · peak RSS %5 · %6 s elapsed")
                       .arg(series.steps.last())
                       .arg(series.loss.last(), 0, 'f', 4)
                       .arg(humanCount(series.tokens_per_s.last()))
                       .arg(series.step_time_ms.last(), 0, 'f', 1)
                       .arg(humanBytes(series.peak_rss_gb.last() * 1e9))
                       .arg(elapsed_.elapsed() / 1000));
  }
}

void RunView::showBanner(const QString& text, bool error) {
  banner_->setText(text);
  banner_->setProperty("error", error);
  banner_->style()->unpolish(banner_);
  banner_->style()->polish(banner_);
  banner_->setVisible(true);
}

void RunView::onEnded(RunController::Ending ending, const QString& message) {
  charts_->replotNow();
  updateButtons();
  const bool completed = ending == RunController::Ending::completed;
  title_->setText(completed ? tr("Run completed") : ending == RunController::Ending::stopped ? tr("Run stopped") : tr("Run failed"));
  showBanner(message, !completed && ending != RunController::Ending::stopped);
  log_->appendPlainText(message);
  emit statusMessage(message.section('\n', 0, 0));
  emit runEnded(completed);
}

}  // namespace behemoth::ui
