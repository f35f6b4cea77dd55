// The Serve charts' curves, one point per /metrics scrape: generated tokens/s, time to first
// token, inter-token and request latency (p50 and p99), KV-cache blocks and the batch. Rates and
// quantiles are over a recent window, not since the server started, so the curves show the load
// now; a quantile with no observation in its window is NaN (a gap in the chart).
#pragma once

#include <QVector>

#include <deque>
#include <utility>

#include "ui/serve_metrics_reader.h"

namespace behemoth::ui {

struct ServeSeries {
  static constexpr double kRateWindowS = 2.0;      // tokens/s over the last 2 s
  static constexpr double kQuantileWindowS = 10.0;  // latency quantiles over the last 10 s

  QVector<double> seconds;  // x of every series: seconds since the first scrape
  QVector<double> tokens_per_s;
  QVector<double> ttft_p50_ms, ttft_p99_ms;
  QVector<double> inter_token_p50_ms, inter_token_p99_ms;
  QVector<double> latency_p50_ms, latency_p99_ms;
  QVector<double> kv_blocks_in_use, kv_blocks_total, kv_occupancy_percent;
  QVector<double> batch_size, queue_length;

  // The latest scrape, whole (the totals line reads its counters).
  MetricsScrape latest;

  // Adds the scrape taken `seconds` after the first one (seconds never decrease).
  void add(double seconds, const MetricsScrape& scrape);
  void clear();
  int size() const { return seconds.size(); }

 private:
  std::deque<std::pair<double, MetricsScrape>> recent_;  // the scrapes of the last window
};

}  // namespace behemoth::ui
