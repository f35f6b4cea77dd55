// Drawing a million-point run while zooming: the compare charts hold every point, and each redraw
// draws per pixel column the column's lowest and highest point (QCustomPlot's adaptive sampling),
// so a redraw costs about the same at every zoom level and no spike is thinned away. Zooms from the
// whole run to 100 steps in 12 levels and back, replotting the loss chart each time, raw and with
// smoothing; prints per level the median time per redraw and frames per second, then one JSON line.
//
//   QT_QPA_PLATFORM=offscreen build/bin/chart_zoom_bench [POINTS] [REPEATS]   (default 1000000, 5)
#include <QApplication>
#include <qcustomplot.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "ui/metric_charts.h"

namespace {

using behemoth::ui::MetricCharts;
using behemoth::ui::RunSeries;

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

RunSeries millionPointRun(int points) {
  RunSeries run;
  run.label = QStringLiteral("bench");
  std::mt19937 random(7);
  std::normal_distribution<double> noise(0.0, 0.05);
  run.steps.reserve(points);
  for (int k = 1; k <= points; ++k) {
    const double step = k;
    run.steps.append(step);
    run.loss.append(2.0 + 3.0 / std::sqrt(step) + noise(random) + (k == points / 3 ? 5.0 : 0.0));  // one spike
    run.tokens_per_s.append(1000 + noise(random) * 100);
    run.step_time_ms.append(50 + noise(random) * 10);
    run.model_state_gb.append(0.1);
    run.peak_rss_gb.append(0.5);
    run.peak_rss_lowest_gb.append(0.5);
    run.comm_mb.append(10);
    run.grad_norm.append(1 + noise(random));
    run.tokens_seen.append(step * 1024);
    run.elapsed_s.append(step * 0.05);
  }
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  const int points = argc > 1 ? std::max(1000, std::atoi(argv[1])) : 1000000;
  const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;

  MetricCharts charts;
  charts.resize(1500, 800);
  charts.show();
  QApplication::processEvents();
  using Clock = std::chrono::steady_clock;
  const auto loaded_at = Clock::now();
  charts.setRuns({millionPointRun(points)});
  const double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - loaded_at).count();
  QCustomPlot* plot = charts.plot(MetricCharts::loss);

  std::printf("chart_zoom_bench: %d points, loss chart %dx%d px, setRuns %.0f ms\n", points, plot->width(), plot->height(), load_ms);
  std::printf("%-10s %14s %12s %12s %12s\n", "smoothing", "visible steps", "ms/redraw", "fps", "worst ms");
  double worst_overall = 0;
  std::vector<double> all;
  for (const double smoothing : {0.0, 0.9}) {
    MetricCharts::View view;
    view.smoothing = smoothing;
    charts.setView(view);
    for (int level = 0; level <= 12; ++level) {
      // Window widths from the whole run down to ~100 steps, centred on the spike.
      const double width = std::max(100.0, double(points) / std::pow(2.0, level * std::log2(points / 100.0) / 12));
      const double centre = points / 3.0;
      std::vector<double> times;
      for (int r = 0; r < repeats; ++r) {
        plot->xAxis->setRange(std::max(0.0, centre - width / 2), std::max(0.0, centre - width / 2) + width);
        const auto start = Clock::now();
        plot->replot(QCustomPlot::rpImmediateRefresh);
        times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      }
      const double ms = median(times);
      all.push_back(ms);
      const double worst = *std::max_element(times.begin(), times.end());
      worst_overall = std::max(worst_overall, worst);
      std::printf("%-10.2f %14.0f %12.2f %12.1f %12.2f\n", smoothing, width, ms, 1000.0 / ms, worst);
    }
  }
  const double typical = median(all);
  std::printf("{\"bench\": \"chart_zoom\", \"points\": %d, \"median_ms_per_redraw\": %.3f, \"fps\": %.1f, \"worst_ms\": %.3f, "
              "\"set_runs_ms\": %.1f}\n",
              points, typical, 1000.0 / typical, worst_overall, load_ms);
  return 0;
}
