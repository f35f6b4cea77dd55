// The live run view's cost per event for a 64-rank run: a step event carries every rank's memory
// figures (and a ZeRO-3 run's tiers), so it is large. Measures, on this machine:
//   - parsing one event line (done on the event-parser thread, EventLineStream, not the window's),
//   - the window's work per event (append to the series, copy the new points to the graphs),
//   - one replot of the six charts (throttled to at most 10 per second) at growing run lengths,
//   - events through the real parser thread into the charts as fast as they come (events/s),
// and the share of the window's thread a 10 events/s stream takes. A table, then one JSON line.
//
//   QT_QPA_PLATFORM=offscreen build/bin/live_events_bench [RANKS] [EVENTS]   (default 64, 20000)
#include <QApplication>
#include <qcustomplot.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "backend/metrics/step_metrics.h"
#include "ui/event_line_parser.h"
#include "ui/metric_charts.h"
#include "ui/screenshot.h"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

std::string stepLine(int step, int ranks) {
  behemoth::StepMetrics m;
  m.step = step;
  m.loss = 5.0 - 1e-4 * step;
  m.grad_norm = 1.0;
  m.lr = 1e-3;
  m.step_time_s = 0.1;
  m.tokens_per_s = 50000;
  m.model_state_bytes = 1 << 30;
  m.peak_rss_bytes = 3LL << 30;
  m.comm_bytes = 1 << 28;
  m.comm_bytes_by_axis = {{"dp", 1 << 27}, {"tp", 1 << 27}};
  m.tokens_seen = 4096LL * step;
  m.elapsed_s = 0.1 * step;
  for (int r = 0; r < ranks; ++r) {
    const std::int64_t jitter = 1000LL * r;
    m.rank_model_state_bytes.push_back((1LL << 30) + jitter);
    m.rank_peak_rss_bytes.push_back((3LL << 30) + jitter);
    m.rank_activation_bytes.push_back((1LL << 29) + jitter);
    m.rank_device_bytes.push_back((1LL << 30) + jitter);
    m.rank_host_bytes.push_back((2LL << 30) + jitter);
    m.rank_tier_moved_bytes.push_back((1LL << 28) + jitter);
  }
  nlohmann::json event = m.toJson();
  event["event"] = "step";
  return event.dump();
}

}  // namespace

int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  const int ranks = argc > 1 ? std::max(1, std::atoi(argv[1])) : 64;
  const int events = argc > 2 ? std::max(1000, std::atoi(argv[2])) : 20000;

  std::vector<std::string> lines;
  for (int step = 1; step <= events; ++step) lines.push_back(stepLine(step, ranks));

  // Parsing (what the parser thread does per line).
  std::vector<double> parse_us;
  for (int k = 0; k < 2000; ++k) {
    const auto start = Clock::now();
    const nlohmann::json parsed = nlohmann::json::parse(lines[k % lines.size()]);
    parse_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    if (parsed.empty()) return 1;
  }

  behemoth::ui::MetricCharts charts;
  charts.resize(1500, 800);
  charts.show();
  charts.beginLive(QStringLiteral("bench"), 1e6);
  std::vector<nlohmann::json> parsed;
  for (const std::string& line : lines) parsed.push_back(nlohmann::json::parse(line));

  // The window's work per event, and a replot every 1,000 events (as the run grows).
  std::vector<double> handle_us;
  std::vector<std::pair<int, double>> replot_ms;
  for (int k = 0; k < events; ++k) {
    const auto start = Clock::now();
    charts.liveSeries().addEvent(parsed[k]);
    charts.syncLive();
    handle_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    if ((k + 1) % (events / 10) == 0) {
      std::vector<double> times;
      for (int r = 0; r < 3; ++r) {
        const auto replot_start = Clock::now();
        charts.replotNow();
        for (int c = 0; c < behemoth::ui::MetricCharts::chart_count; ++c) {
          charts.plot(static_cast<behemoth::ui::MetricCharts::Chart>(c))->replot(QCustomPlot::rpImmediateRefresh);
        }
        times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - replot_start).count());
      }
      replot_ms.emplace_back(k + 1, median(times));
    }
  }

  // Through the real parser thread into fresh charts, as fast as the lines come.
  behemoth::ui::MetricCharts flood;
  flood.resize(1500, 800);
  flood.show();
  flood.beginLive(QStringLiteral("flood"), 1e6);
  behemoth::ui::EventLineStream stream;
  int received = 0;
  bool drained = false;
  QObject::connect(stream.parser(), &behemoth::ui::EventLineParser::parsed, &flood, [&](const nlohmann::json& event) {
    flood.liveSeries().addEvent(event);
    flood.syncLive();
    ++received;
  });
  QObject::connect(stream.parser(), &behemoth::ui::EventLineParser::drained, &flood, [&](int) { drained = true; });
  const auto flood_start = Clock::now();
  for (const std::string& line : lines) stream.give(QByteArray::fromStdString(line + "\n"));
  stream.drain(1);
  behemoth::ui::waitUntil([&] { return drained; }, 600000);
  const double flood_s = std::chrono::duration<double>(Clock::now() - flood_start).count();

  const double parse = median(parse_us), handle = median(handle_us);
  const double worst_replot = replot_ms.back().second;
  // 10 events/s and at most 10 replots/s, on the window's thread (parsing is elsewhere).
  const double busy_share = (10 * handle * 1e-6 + 10 * worst_replot * 1e-3);
  std::printf("live_events_bench: %d ranks, event line %zu bytes\n", ranks, lines.front().size());
  std::printf("  parse one event (parser thread)    %8.1f us\n", parse);
  std::printf("  window's work per event            %8.1f us\n", handle);
  for (const auto& [points, ms] : replot_ms) std::printf("  replot of the six charts at %6d steps %8.2f ms\n", points, ms);
  std::printf("  through the parser thread          %8.0f events/s (%d of %d)\n", received / flood_s, received, events);
  std::printf("  window's thread at 10 events/s     %8.2f %% busy (at the longest run)\n", 100 * busy_share);
  std::printf("{\"bench\": \"live_events\", \"ranks\": %d, \"line_bytes\": %zu, \"parse_us\": %.2f, \"handle_us\": %.2f, "
              "\"replot_ms\": %.3f, \"replot_at_steps\": %d, \"flood_events_per_s\": %.0f, \"busy_share_at_10_per_s\": %.4f}\n",
              ranks, lines.front().size(), parse, handle, worst_replot, replot_ms.back().first, received / flood_s, busy_share);
  return received == events ? 0 : 1;
}
