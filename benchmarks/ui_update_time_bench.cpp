// The Studio's edit latency on the 70B plan over 64 virtual GPUs: for each of N edits of
// parallel.zero, the analysis alone (worker thread) and the whole path the window takes (edit ->
// worker-thread analysis -> every view updated), timed with a steady clock. Prints the medians and
// the worst case, then one JSON line.
//
//   build/bin/ui_update_time_bench [PROJECT] [EDITS]   (default projects/llama-70b-64gpu.json, 20)
#include <QApplication>
#include <QEventLoop>
#include <QTemporaryDir>
#include <QTimer>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "ui/estimate_service.h"
#include "ui/main_window.h"
#include "ui/screenshot.h"

namespace {

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  const QString project = argc > 1 ? QString::fromLocal8Bit(argv[1]) : QStringLiteral("projects/llama-70b-64gpu.json");
  const int edits = argc > 2 ? std::max(1, std::atoi(argv[2])) : 20;

  using behemoth::ui::MainWindow;
  QTemporaryDir dir;
  MainWindow window(dir.filePath("history.sqlite"), false);
  window.resize(1400, 900);
  window.show();
  window.showPage(MainWindow::Page::plan);
  if (!window.openProject(project)) {
    std::fprintf(stderr, "cannot open %s\n", qPrintable(project));
    return 1;
  }
  behemoth::ui::EstimateService& estimates = *window.estimates();
  behemoth::ui::waitUntil([&] { return estimates.latest() && !estimates.busy(); }, 60000);
  if (!estimates.latest() || estimates.latest()->error) {
    std::fprintf(stderr, "the project has no estimate\n");
    return 1;
  }

  // The window's own slot is connected first, so when this one runs every view has been updated.
  QEventLoop loop;
  QObject::connect(&estimates, &behemoth::ui::EstimateService::analysisReady, &loop, &QEventLoop::quit);
  QTimer guard;
  guard.setSingleShot(true);
  QObject::connect(&guard, &QTimer::timeout, &loop, &QEventLoop::quit);

  using clock = std::chrono::steady_clock;
  std::vector<double> end_to_end_ms, analysis_ms;
  for (int edit = 0; edit < edits; ++edit) {
    const auto begin = clock::now();
    window.document()->setValue("/parallel/zero", edit % 2 == 0 ? 2 : 1);
    guard.start(60000);
    loop.exec();
    end_to_end_ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - begin).count());
    analysis_ms.push_back(estimates.lastMilliseconds());
    if (!guard.isActive()) {
      std::fprintf(stderr, "edit %d: no estimate within 60 s\n", edit);
      return 1;
    }
    guard.stop();
  }
  const double worst = *std::max_element(end_to_end_ms.begin(), end_to_end_ms.end());
  std::printf("%-34s %8s %12s %12s %10s\n", "project", "devices", "analysis ms", "edit->views", "worst ms");
  std::printf("%-34s %8zu %12.3f %12.3f %10.3f\n", qPrintable(project.section('/', -1)), estimates.latest()->devices.size(),
              median(analysis_ms), median(end_to_end_ms), worst);
  std::printf("{\"project\": \"%s\", \"edits\": %d, \"analysis_ms_median\": %.4f, \"edit_to_views_ms_median\": %.4f, "
              "\"edit_to_views_ms_worst\": %.4f}\n",
              qPrintable(project), edits, median(analysis_ms), median(end_to_end_ms), worst);
  return 0;
}
