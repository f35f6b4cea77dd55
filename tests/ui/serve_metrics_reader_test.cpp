// The Serve page's arithmetic, against numbers worked out by hand: the Prometheus text of
// `behemoth serve` read into counters, gauges and histograms; quantiles from buckets (linear
// inside a bucket, as histogram_quantile); the observations between two scrapes; rates; the
// windows of the chart series; and server-sent events split at every byte.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "ui/serve_event_stream.h"
#include "ui/serve_metrics_reader.h"
#include "ui/serve_series.h"

namespace behemoth::ui {
namespace {

// In the shape backend/serve/serve_metrics.cpp writes, with a sample without # TYPE and the
// buckets out of order (the reader must not depend on either).
const char* kScrape = R"(# HELP behemoth_requests_total Completion requests by outcome.
# TYPE behemoth_requests_total counter
behemoth_requests_total{outcome="cancelled"} 1
behemoth_requests_total{outcome="invalid"} 2
behemoth_requests_total{outcome="ok"} 7
behemoth_requests_total{outcome="rejected"} 0
# TYPE behemoth_generated_tokens_total counter
behemoth_generated_tokens_total 640
# HELP behemoth_request_latency_seconds From a request's arrival to its end.
# TYPE behemoth_request_latency_seconds histogram
behemoth_request_latency_seconds_bucket{le="0.1"} 2
behemoth_request_latency_seconds_bucket{le="1"} 8
behemoth_request_latency_seconds_bucket{le="0.5"} 6
behemoth_request_latency_seconds_bucket{le="+Inf"} 10
behemoth_request_latency_seconds_sum 7.25
behemoth_request_latency_seconds_count 10
# TYPE behemoth_kv_blocks_in_use gauge
behemoth_kv_blocks_in_use 12
behemoth_kv_blocks_total 128
)";

HistogramBuckets buckets(std::vector<double> counts) {
  HistogramBuckets histogram;
  histogram.bounds = {0.1, 0.5, 1.0, INFINITY};
  histogram.counts = std::move(counts);
  histogram.count = histogram.counts.back();
  return histogram;
}

TEST(ServeMetricsReader, ReadsCountersGaugesAndHistograms) {
  const MetricsScrape scrape = parsePrometheusText(kScrape);
  EXPECT_EQ(scrape.counter("behemoth_requests_total{outcome=\"ok\"}"), 7);
  EXPECT_EQ(scrape.counter("behemoth_requests_total{outcome=\"invalid\"}"), 2);
  EXPECT_EQ(scrape.counterSum("behemoth_requests_total"), 10);
  EXPECT_EQ(scrape.counter("behemoth_generated_tokens_total"), 640);
  EXPECT_EQ(scrape.counter("behemoth_prompt_tokens_total"), 0);  // absent: 0
  EXPECT_EQ(scrape.gauge("behemoth_kv_blocks_in_use"), 12);
  EXPECT_EQ(scrape.gauge("behemoth_kv_blocks_total"), 128);  // no # TYPE: read as a gauge
  EXPECT_TRUE(scrape.counters.count("behemoth_kv_blocks_in_use") == 0);

  const HistogramBuckets* latency = scrape.histogram("behemoth_request_latency_seconds");
  ASSERT_NE(latency, nullptr);
  EXPECT_EQ(latency->bounds, (std::vector<double>{0.1, 0.5, 1.0, INFINITY}));
  EXPECT_EQ(latency->counts, (std::vector<double>{2, 6, 8, 10}));
  EXPECT_DOUBLE_EQ(latency->sum, 7.25);
  EXPECT_EQ(latency->count, 10);
  EXPECT_EQ(scrape.histogram("behemoth_time_to_first_token_seconds"), nullptr);
  // Histogram parts are not counters or gauges of their own.
  EXPECT_EQ(scrape.gauges.count("behemoth_request_latency_seconds_sum"), 0u);
}

TEST(ServeMetricsReader, QuantilesInterpolateInsideTheirBucket) {
  const HistogramBuckets latency = buckets({2, 6, 8, 10});
  // p50: rank 5 lies in (0.1, 0.5], which holds ranks 3..6: 0.1 + 0.4 * (5 - 2) / 4.
  EXPECT_DOUBLE_EQ(histogramQuantile(0.5, latency), 0.4);
  // p10: rank 1 of the 2 in the first bucket, which starts at 0.
  EXPECT_DOUBLE_EQ(histogramQuantile(0.1, latency), 0.05);
  // p70: rank 7 in (0.5, 1], which holds ranks 7..8: 0.5 + 0.5 * 1 / 2.
  EXPECT_DOUBLE_EQ(histogramQuantile(0.7, latency), 0.75);
  EXPECT_DOUBLE_EQ(histogramQuantile(0.8, latency), 1.0);
  // p99: rank 9.9 is past every finite bound; the largest finite bound is all that is known.
  EXPECT_DOUBLE_EQ(histogramQuantile(0.99, latency), 1.0);
  EXPECT_TRUE(std::isnan(histogramQuantile(0.5, buckets({0, 0, 0, 0}))));
  EXPECT_TRUE(std::isnan(histogramQuantile(0.5, HistogramBuckets{})));
}

TEST(ServeMetricsReader, TheDifferenceOfTwoScrapesIsWhatHappenedBetweenThem) {
  const HistogramBuckets earlier = buckets({1, 2, 2, 2});
  const HistogramBuckets later = buckets({2, 6, 8, 10});
  const HistogramBuckets between = histogramDifference(later, earlier);
  EXPECT_EQ(between.counts, (std::vector<double>{1, 4, 6, 8}));
  EXPECT_EQ(between.count, 8);
  // p50 between: rank 4 in (0.1, 0.5], which holds ranks 2..4: 0.1 + 0.4 * (4 - 1) / 3.
  EXPECT_DOUBLE_EQ(histogramQuantile(0.5, between), 0.5);
  EXPECT_NEAR(histogramQuantile(0.25, between), 0.1 + 0.4 / 3, 1e-12);
  // A server that restarted counts from zero: the later scrape is taken whole.
  EXPECT_EQ(histogramDifference(earlier, later).counts, earlier.counts);
}

TEST(ServeMetricsReader, RatesBetweenScrapes) {
  EXPECT_DOUBLE_EQ(counterRate(640, 440, 2.0), 100.0);
  EXPECT_DOUBLE_EQ(counterRate(30, 640, 2.0), 15.0);  // restarted: 30 since
  EXPECT_DOUBLE_EQ(counterRate(640, 440, 0.0), 0.0);
}

TEST(ServeMetricsReader, AMalformedLineNamesItsLineNumber) {
  try {
    parsePrometheusText("# TYPE x counter\nx 1\nx{outcome=\"ok} 2\n");
    FAIL() << "expected a refusal";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("metrics line 3"), std::string::npos) << error.what();
  }
  EXPECT_THROW(parsePrometheusText("x not-a-number\n"), std::invalid_argument);
  EXPECT_THROW(parsePrometheusText("# TYPE h histogram\nh_bucket 3\n"), std::invalid_argument);  // no le
}

TEST(ServeMetricsReader, ReadsWhatTheServerWrites) {
  // Captured from `behemoth serve` after two requests (numbers as %.9g, labels sorted).
  const MetricsScrape scrape = parsePrometheusText(
      "# TYPE behemoth_time_to_first_token_seconds histogram\n"
      "behemoth_time_to_first_token_seconds_bucket{le=\"0.001\"} 1\n"
      "behemoth_time_to_first_token_seconds_bucket{le=\"0.0025\"} 1\n"
      "behemoth_time_to_first_token_seconds_bucket{le=\"0.005\"} 2\n"
      "behemoth_time_to_first_token_seconds_bucket{le=\"+Inf\"} 2\n"
      "behemoth_time_to_first_token_seconds_sum 0.003646463\n"
      "behemoth_time_to_first_token_seconds_count 2\n");
  const HistogramBuckets* ttft = scrape.histogram("behemoth_time_to_first_token_seconds");
  ASSERT_NE(ttft, nullptr);
  EXPECT_EQ(ttft->bounds.size(), 4u);
  // p50: rank 1 is the first bucket's only observation: its upper bound.
  EXPECT_DOUBLE_EQ(histogramQuantile(0.5, *ttft), 0.001);
  // p99: rank 1.98 in (0.0025, 0.005], which holds rank 2 alone.
  EXPECT_NEAR(histogramQuantile(0.99, *ttft), 0.0025 + 0.0025 * 0.98, 1e-15);
}

MetricsScrape scrapeAt(double generated, double latency_count, double in_use) {
  MetricsScrape scrape;
  scrape.counters["behemoth_generated_tokens_total"] = generated;
  scrape.gauges["behemoth_kv_blocks_in_use"] = in_use;
  scrape.gauges["behemoth_kv_blocks_total"] = 128;
  HistogramBuckets latency = buckets({0, latency_count, latency_count, latency_count});  // all in (0.1, 0.5]
  scrape.histograms["behemoth_request_latency_seconds"] = latency;
  return scrape;
}

TEST(ServeSeries, RatesAndQuantilesAreOverRecentWindows) {
  ServeSeries series;
  // One scrape a second; 100 tokens a second; 4 requests end in the first second, none after.
  for (int t = 0; t <= 12; ++t) series.add(t, scrapeAt(100.0 * t, t >= 1 ? 4 : 0, 12));
  ASSERT_EQ(series.size(), 13);
  EXPECT_TRUE(std::isnan(series.tokens_per_s[0]));  // one scrape: no rate yet
  for (int t = 1; t <= 12; ++t) EXPECT_DOUBLE_EQ(series.tokens_per_s[t], 100.0) << "t " << t;
  // p50 of 4 observations in (0.1, 0.5]: rank 2 of 4, 0.1 + 0.4 / 2 = 300 ms.
  EXPECT_TRUE(std::isnan(series.latency_p50_ms[0]));
  EXPECT_DOUBLE_EQ(series.latency_p50_ms[1], 300.0);
  EXPECT_DOUBLE_EQ(series.latency_p50_ms[10], 300.0);  // the window starts at t 0
  // From t 11 the window starts at t 1, after which nothing ended: a gap.
  EXPECT_TRUE(std::isnan(series.latency_p50_ms[11]));
  EXPECT_TRUE(std::isnan(series.latency_p99_ms[12]));
  EXPECT_DOUBLE_EQ(series.kv_occupancy_percent[5], 100.0 * 12 / 128);
  EXPECT_DOUBLE_EQ(series.kv_blocks_total[5], 128);
  EXPECT_EQ(series.latest.counter("behemoth_generated_tokens_total"), 1200);
}

std::vector<std::string> feedByteByByte(ServeEventStream& stream, const std::string& text) {
  std::vector<std::string> events;
  for (const char c : text) {
    for (std::string& event : stream.feed(std::string(1, c))) events.push_back(std::move(event));
  }
  return events;
}

TEST(ServeEventStream, EventsSurviveReadsThatEndAnywhere) {
  const std::string body =
      "data: {\"choices\":[{\"text\":\"h\\u00e9\"}]}\n\n"
      ": keep-alive\n\n"
      "data: first\r\ndata: second\r\n\r\n"
      "event: ignored\nid: 3\ndata: [DONE]\n\n"
      "data: unfinished";
  ServeEventStream whole;
  const std::vector<std::string> at_once = whole.feed(body);
  const std::vector<std::string> expected = {"{\"choices\":[{\"text\":\"h\\u00e9\"}]}", "first\nsecond", "[DONE]"};
  EXPECT_EQ(at_once, expected);
  EXPECT_TRUE(whole.hasPartialEvent());
  ServeEventStream bytes;
  EXPECT_EQ(feedByteByByte(bytes, body), expected);
  EXPECT_EQ(bytes.feed("\n\n"), std::vector<std::string>{"unfinished"});
  EXPECT_FALSE(bytes.hasPartialEvent());
}

}  // namespace
}  // namespace behemoth::ui
