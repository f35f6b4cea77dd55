// Reads what `behemoth serve` answers on GET /metrics (the Prometheus text format) into plain
// numbers, and the arithmetic the Serve charts need: quantiles from histogram buckets (linear
// inside a bucket, as Prometheus' histogram_quantile) and rates between two scrapes. Qt-free.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace behemoth::ui {

// A cumulative histogram: counts[i] observations were <= bounds[i]. The last bound is +Inf, so
// counts.back() is the number of observations.
struct HistogramBuckets {
  std::vector<double> bounds;
  std::vector<double> counts;
  double sum = 0;
  double count = 0;
};

struct MetricsScrape {
  // Keyed by the sample's name, with its labels sorted by name when it has any:
  // `behemoth_generated_tokens_total`, `behemoth_requests_total{outcome="ok"}`.
  std::map<std::string, double> counters;
  std::map<std::string, double> gauges;  // gauges, and samples without a # TYPE line
  std::map<std::string, HistogramBuckets> histograms;  // by the histogram's base name

  // 0 when the scrape does not have it (a server that has not counted anything yet).
  double counter(const std::string& key) const;
  double gauge(const std::string& key) const;
  // Every label set of a counter added up (all outcomes of behemoth_requests_total).
  double counterSum(const std::string& name) const;
  // nullptr when the scrape does not have it.
  const HistogramBuckets* histogram(const std::string& name) const;
};

// Throws std::invalid_argument("metrics line 12: ...") for a line it cannot read.
MetricsScrape parsePrometheusText(const std::string& text);

// The q-quantile (0 <= q <= 1) of the observations, NaN without any. An observation in the +Inf
// bucket is reported as the largest finite bound, as Prometheus does.
double histogramQuantile(double q, const HistogramBuckets& histogram);

// The observations made between two scrapes of one histogram (`later` minus `earlier`, bucket by
// bucket). A histogram that restarted (its count fell, or its bounds changed) is taken whole.
HistogramBuckets histogramDifference(const HistogramBuckets& later, const HistogramBuckets& earlier);

// Per second between two readings of a counter `seconds` apart; a counter that fell (the server
// restarted) counts from zero. 0 when no time passed.
double counterRate(double later, double earlier, double seconds);

}  // namespace behemoth::ui
