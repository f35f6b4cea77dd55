#include "ui/serve_series.h"

#include <cmath>
#include <limits>

namespace behemoth::ui {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The metric names of backend/serve/serve_metrics.cpp.
constexpr const char* kGeneratedTokens = "behemoth_generated_tokens_total";
constexpr const char* kTimeToFirstToken = "behemoth_time_to_first_token_seconds";
constexpr const char* kInterTokenLatency = "behemoth_inter_token_latency_seconds";
constexpr const char* kRequestLatency = "behemoth_request_latency_seconds";

// The newest scrape at least `window` seconds older than `now`, else the oldest there is.
const std::pair<double, MetricsScrape>& windowStart(const std::deque<std::pair<double, MetricsScrape>>& recent, double now,
                                                    double window) {
  for (auto it = recent.rbegin(); it != recent.rend(); ++it) {
    if (now - it->first >= window) return *it;
  }
  return recent.front();
}

// p50 and p99 in milliseconds of what the histogram observed between two scrapes.
std::pair<double, double> windowQuantilesMs(const MetricsScrape& now, const MetricsScrape& before, const char* name) {
  const HistogramBuckets* later = now.histogram(name);
  if (!later) return {kNaN, kNaN};
  const HistogramBuckets* earlier = before.histogram(name);
  const HistogramBuckets window = earlier ? histogramDifference(*later, *earlier) : *later;
  return {histogramQuantile(0.5, window) * 1000.0, histogramQuantile(0.99, window) * 1000.0};
}

}  // namespace

void ServeSeries::add(double now, const MetricsScrape& scrape) {
  recent_.emplace_back(now, scrape);
  // Keep one scrape older than the longer window: the start every window is measured from.
  while (recent_.size() > 2 && now - recent_[1].first >= kQuantileWindowS) recent_.pop_front();

  const auto& rate_start = windowStart(recent_, now, kRateWindowS);
  const double elapsed = now - rate_start.first;
  seconds.append(now);
  tokens_per_s.append(elapsed > 0 ? counterRate(scrape.counter(kGeneratedTokens), rate_start.second.counter(kGeneratedTokens), elapsed)
                                  : kNaN);

  // The first scrape's window is everything since the server started.
  const MetricsScrape& quantile_start = recent_.size() > 1 ? windowStart(recent_, now, kQuantileWindowS).second : MetricsScrape{};
  const auto ttft = windowQuantilesMs(scrape, quantile_start, kTimeToFirstToken);
  ttft_p50_ms.append(ttft.first);
  ttft_p99_ms.append(ttft.second);
  const auto inter = windowQuantilesMs(scrape, quantile_start, kInterTokenLatency);
  inter_token_p50_ms.append(inter.first);
  inter_token_p99_ms.append(inter.second);
  const auto latency = windowQuantilesMs(scrape, quantile_start, kRequestLatency);
  latency_p50_ms.append(latency.first);
  latency_p99_ms.append(latency.second);

  const double in_use = scrape.gauge("behemoth_kv_blocks_in_use");
  const double total = scrape.gauge("behemoth_kv_blocks_total");
  kv_blocks_in_use.append(in_use);
  kv_blocks_total.append(total);
  kv_occupancy_percent.append(total > 0 ? 100.0 * in_use / total : 0.0);
  batch_size.append(scrape.gauge("behemoth_batch_size"));
  queue_length.append(scrape.gauge("behemoth_queue_length"));
  latest = scrape;
}

void ServeSeries::clear() { *this = ServeSeries{}; }

}  // namespace behemoth::ui
