// Live charts under a fast stream: appending a step event costs O(1) (no rebuild) and replots
// stay throttled to at most 10 per second however fast events arrive.
#include <QElapsedTimer>
#include <gtest/gtest.h>
#include <qcustomplot.h>

#include <chrono>
#include <cstdio>

#include "tests/ui/ui_test_support.h"
#include "ui/metric_charts.h"

namespace behemoth::ui {
namespace {

TEST(LiveStream, ThousandsOfEventsAppendCheaplyAndReplotsAreThrottled) {
  MetricCharts charts;
  charts.resize(1200, 700);
  charts.show();
  charts.beginLive("live", 1e6);
  int replots = 0;
  QObject::connect(charts.plot(MetricCharts::loss), &QCustomPlot::afterReplot, [&] { ++replots; });

  constexpr int kEvents = 2000;
  const auto begin = std::chrono::steady_clock::now();
  QElapsedTimer wall;
  wall.start();
  for (int step = 1; step <= kEvents; ++step) {
    const nlohmann::json event = {{"event", "step"},      {"step", step},           {"loss", 5.0 - step * 1e-3},
                                  {"grad_norm", 1.0},     {"lr", 1e-3},             {"step_time_s", 0.1},
                                  {"tokens_per_s", 1000}, {"model_state_bytes", 1}, {"peak_rss_bytes", 1},
                                  {"comm_bytes", 1}};
    charts.liveSeries().addEvent(event);
    charts.syncLive();
    if (step % 20 == 0) QCoreApplication::processEvents();  // the event loop runs between reads
  }
  const double per_event_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin).count() / kEvents;
  waitUntil([] { return false; }, 250);  // the last throttled replot
  const double seconds = wall.elapsed() / 1000.0;
  std::printf("%d events: %.3f ms each including replots; %d replots in %.2f s\n", kEvents, per_event_ms, replots, seconds);
  EXPECT_EQ(charts.pointCount(MetricCharts::loss, 0), kEvents);
  EXPECT_LE(replots, static_cast<int>(seconds * 10) + 2);
  EXPECT_LT(per_event_ms, 1.0);
}

}  // namespace
}  // namespace behemoth::ui
