#include "ui/screenshot.h"

#include <QApplication>
#include <QButtonGroup>
#include <QComboBox>
#include <QElapsedTimer>
#include <QLabel>
#include <QMenu>
#include <QRadioButton>
#include <QSlider>
#include <QSplitter>
#include <QTabWidget>
#include <QThread>
#include <QToolButton>
#include <qcustomplot.h>

#include <cmath>
#include <iostream>

#include "ui/chunk_panel.h"
#include "ui/chunk_view.h"
#include "ui/compare_view.h"
#include "ui/metric_charts.h"
#include "ui/plan_check_panel.h"
#include "ui/history_table_model.h"
#include "ui/history_view.h"
#include "ui/main_window.h"
#include "ui/mesh_designer_view.h"
#include "ui/mesh_grid_widget.h"
#include "ui/run_series.h"
#include "ui/run_view.h"
#include "ui/serve_demo_load.h"
#include "ui/serve_screenshot.h"
#include "ui/trace_panel.h"

namespace behemoth::ui {
namespace {

// The compare toolbar and tab as the options ask; a message naming the option when a value is wrong.
QString setCompareView(CompareView& view, const ScreenshotOptions& options) {
  if (options.smoothing < 0 || options.smoothing >= 1) return QStringLiteral("--smoothing must be in [0, 1)");
  view.smoothingSlider()->setValue(static_cast<int>(std::lround(options.smoothing * 100)));
  if (!options.x_axis.isEmpty()) {
    const QStringList names = {"step", "tokens", "wall", "time"};
    const int kind = static_cast<int>(names.indexOf(options.x_axis));
    if (kind < 0) return QStringLiteral("--x-axis must be step, tokens, wall or time, not '%1'").arg(options.x_axis);
    view.xAxisChooser()->setCurrentIndex(view.xAxisChooser()->findData(kind));
  }
  const QStringList charts = {"loss", "throughput", "step-time", "memory", "communication", "grad-norm"};
  for (const QString& chart : options.log_y) {
    const auto index = charts.indexOf(chart);
    if (index < 0) return QStringLiteral("--log-y: unknown chart '%1' (%2)").arg(chart, charts.join(QStringLiteral(", ")));
    view.logScaleButton()->menu()->actions().at(index)->setChecked(true);
  }
  if (!options.group_by.isEmpty()) {
    const int index = view.groupChooser()->findText(options.group_by);
    if (index < 0) return QStringLiteral("--group-by: the runs do not differ in '%1'").arg(options.group_by);
    view.groupChooser()->setCurrentIndex(index);
  }
  if (options.tab == "plan") {
    view.tabs()->setCurrentIndex(1);
    // The per-rank table gets half the page.
    if (auto* split = view.findChild<QSplitter*>()) split->setSizes({split->height() / 2, split->height() / 2});
    // The first run named on the command line (the view orders them oldest first).
    if (!options.runs.empty()) {
      QComboBox* chooser = view.planCheck()->runChooser();
      const int index = chooser->findText(QStringLiteral("#%1 ").arg(options.runs.front()), Qt::MatchStartsWith);
      if (index >= 0) chooser->setCurrentIndex(index);
    }
    waitUntil([&] { return !view.planCheck()->busy() && view.planCheck()->comparison(); }, 60000);
  } else if (!options.tab.isEmpty() && options.tab != "settings") {
    return QStringLiteral("--tab must be settings or plan, not '%1'").arg(options.tab);
  }
  return {};
}


QtMessageHandler previous_handler = nullptr;

// grab() flushes the pending resize events of pages never shown; their charts get a 0x0 size for
// that moment and QCustomPlot says so. Those two lines are expected here and nothing else is hidden.
void screenshotMessages(QtMsgType type, const QMessageLogContext& context, const QString& message) {
  if (message.startsWith(QLatin1String("QPainter::begin: Paint device returned engine == 0")) ||
      message.contains(QLatin1String("paint buffer returned inactive painter")) ||
      message.contains(QLatin1String("does not support propagateSizeHints"))) {
    return;
  }
  previous_handler(type, context, message);
}

}  // namespace

const std::vector<QString>& screenshotViews() {
  static const std::vector<QString> views = {"picker", "mesh", "plan", "run", "history", "compare", "chunks", "serve"};
  return views;
}

bool waitUntil(const std::function<bool()>& done, int timeout_ms) {
  QElapsedTimer timer;
  timer.start();
  while (!done() && timer.elapsed() < timeout_ms) {
    QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    QThread::msleep(2);
  }
  return done();
}

namespace {

int fail(const QString& message) {
  std::cerr << "behemoth-studio --screenshot: " << message.toStdString() << "\n";
  return 1;
}

// The newest runs that completed, newest first.
std::vector<std::int64_t> newestCompleted(const HistoryTableModel* model, std::size_t count) {
  std::vector<std::pair<std::int64_t, bool>> runs;
  for (int row = 0; row < model->rowCount(); ++row) {
    runs.emplace_back(model->run(row).id, model->run(row).outcome == RunOutcome::completed);
  }
  std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::int64_t> ids;
  for (const auto& [id, completed] : runs) {
    if (completed && ids.size() < count) ids.push_back(id);
  }
  return ids;
}

}  // namespace

int renderScreenshot(const ScreenshotOptions& options) {
  const auto& views = screenshotViews();
  if (std::find(views.begin(), views.end(), options.view) == views.end()) {
    return fail(QStringLiteral("unknown view '%1' (expected picker, mesh, plan, run, history, compare, chunks or serve)").arg(options.view));
  }
  auto* app = qobject_cast<QApplication*>(QCoreApplication::instance());
  previous_handler = qInstallMessageHandler(screenshotMessages);
  MainWindow window(options.history, false);
  window.setTheme(themeFromName(options.theme));
  window.resize(options.size);
  window.show();
  if (!options.project.isEmpty() && !window.openProject(options.project)) return fail(window.notice()->text());

  // The estimate of the opened project, and the history listing.
  waitUntil([&] { return window.estimates()->latest() && !window.estimates()->busy(); }, 20000);
  waitUntil([&] { return !window.suggesting(); }, 20000);
  HistoryView* history = window.historyView();
  waitUntil([&] { return history->loaded() && !window.historyService()->busy(); }, 20000);

  const QString& view = options.view;
  if (view == "picker") window.showPage(MainWindow::Page::model);
  if (view == "mesh") {
    window.showPage(MainWindow::Page::mesh);
    if (!options.highlight.isEmpty()) {
      // A tp grid's sub-axis ("tp_z") by its button; a mesh axis ("tp") by name.
      bool grid_axis = false;
      for (QRadioButton* button : window.meshDesigner()->findChildren<QRadioButton*>()) {
        if (button->text() != options.highlight) continue;
        button->click();
        grid_axis = options.highlight.startsWith(QStringLiteral("tp_"));
      }
      if (!grid_axis) window.meshDesigner()->grid()->setHighlightAxis(axisFromName(options.highlight.toStdString()));
    }
  }
  if (view == "plan") window.showPage(MainWindow::Page::plan);
  if (view == "history") {
    window.showPage(MainWindow::Page::history);
    if (history->model()->rowCount() == 0 && history->banner()->isHidden()) {
      std::cerr << "behemoth-studio --screenshot: warning: the history is empty\n";
    }
    history->selectIds(options.runs.empty() ? newestCompleted(history->model(), 2) : options.runs);
  }
  if (view == "run" && !options.trace.isEmpty() && options.metrics.isEmpty() && options.runs.empty()) {
    // The pipeline timeline alone: no curves needed.
    window.runView()->showRecorded(RunSeries{}, QStringLiteral("Traced run: %1").arg(options.trace));
    window.showPage(MainWindow::Page::run);
  } else if (view == "run") {
    if (!options.metrics.isEmpty()) {
      try {
        const AnalysisPtr analysis = window.estimates()->latest();
        window.runView()->showRecorded(readMetricsFile(options.metrics, analysis ? analysis->flops.model() : 0),
                                       QStringLiteral("Recorded run: %1").arg(options.metrics));
      } catch (const std::exception& error) {
        return fail(QString::fromStdString(error.what()));
      }
      window.showPage(MainWindow::Page::run);
    } else {
      const auto ids = options.runs.empty() ? newestCompleted(history->model(), 1) : options.runs;
      if (ids.empty()) return fail(QStringLiteral("no --metrics file and no completed run in the history"));
      window.openHistoryRun(ids.front());
      waitUntil([&] { return window.currentPage() == MainWindow::Page::run; }, 20000);
    }
  }
  if (view == "compare") {
    const auto ids = options.runs.empty() ? newestCompleted(history->model(), 2) : options.runs;
    if (ids.size() < 2) return fail(QStringLiteral("compare needs two completed runs in the history (or --runs A,B)"));
    window.compareRuns(ids);
    if (!waitUntil([&] { return window.currentPage() == MainWindow::Page::compare; }, 20000)) {
      return fail(window.notice()->text());
    }
    if (const QString problem = setCompareView(*window.compareView(), options); !problem.isEmpty()) return fail(problem);
  }
  if (view == "chunks" && options.run_dir.isEmpty()) {
    // The plan's chunks under its tier stacks, given most of the plan page's right-hand column.
    window.showPage(MainWindow::Page::plan);
    if (!window.chunkView()->hasChunks()) return fail(QStringLiteral("the project is not a ZeRO-3 plan (parallel.zero 3)"));
    const int height = std::max(600, window.planColumn()->height());
    window.planColumn()->setSizes({height * 9 / 20, 0, height * 11 / 20});
  } else if (view == "chunks") {
    RunSeries series;
    if (!options.metrics.isEmpty()) {
      try {
        const AnalysisPtr analysis = window.estimates()->latest();
        series = readMetricsFile(options.metrics, analysis ? analysis->flops.model() : 0);
      } catch (const std::exception& error) {
        return fail(QString::fromStdString(error.what()));
      }
    }
    window.runView()->showRecorded(std::move(series), QStringLiteral("Recorded run: %1").arg(options.run_dir));
    window.runView()->showChunks(options.run_dir, window.document()->json());
    if (!window.runView()->chunkPanel()->hasRecord()) return fail(QStringLiteral("no chunk record under %1/chunks").arg(options.run_dir));
    window.showPage(MainWindow::Page::run);
    if (auto* split = window.runView()->findChild<QSplitter*>()) {
      // Without curves the chunks take the page; with them, the charts keep a third.
      const int height = std::max(600, split->height());
      split->setSizes(options.metrics.isEmpty() ? QList<int>{0, 0, height * 17 / 20, height * 3 / 20}
                                                : QList<int>{height * 7 / 20, 0, height * 11 / 20, height * 2 / 20});
    }
  }
  if (view == "run" && !options.trace.isEmpty()) {
    window.runView()->showTrace(options.trace, window.document()->json());
    if (!window.runView()->tracePanel()->hasTrace()) return fail(QStringLiteral("no trace folder under %1").arg(options.trace));
  }
  // A real server for the project, under load, with a streamed answer (ui/serve_screenshot.h).
  ServeScreenshotStage serve;
  if (view == "serve") {
    serve = stageServeScreenshot(window);
    if (!serve.error.isEmpty()) return fail(serve.error);
  }
  // Let layouts settle, then draw every chart now (they otherwise replot on the next frame).
  waitUntil([] { return false; }, 300);
  for (QCustomPlot* plot : window.findChildren<QCustomPlot*>()) {
    if (plot->isVisible()) plot->replot(QCustomPlot::rpImmediateRefresh);
  }
  app->processEvents();
  const QPixmap pixmap = window.grab();
  if (!pixmap.save(options.out)) return fail(QStringLiteral("cannot write %1").arg(options.out));
  std::cout << "wrote " << options.out.toStdString() << " (" << pixmap.width() << "x" << pixmap.height() << ")\n";
  return 0;
}

}  // namespace behemoth::ui
