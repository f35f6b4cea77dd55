// What `GET /metrics` reports, in the Prometheus text format: request outcomes, tokens, time to
// first token, inter-token latency and request latency (histograms), and gauges of the batch, the
// queue and the KV blocks. Thread-safe: the serving thread and the connections update it.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace behemoth {

// A cumulative histogram with fixed upper bounds (seconds).
class LatencyHistogram {
 public:
  explicit LatencyHistogram(std::vector<double> bounds);
  void observe(double seconds);
  // "# HELP", "# TYPE" and the _bucket / _sum / _count lines under `name`.
  std::string render(const std::string& name, const std::string& help) const;
  std::int64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::int64_t> counts_;  // per bound, not cumulative
  std::int64_t count_ = 0;
  double sum_ = 0.0;
};

class ServeMetrics {
 public:
  ServeMetrics();

  // outcome: "ok" (length or stop), "cancelled" (the client left), "rejected" (503: queue full),
  // "invalid" (4xx: the request was refused).
  void countRequest(const std::string& outcome);
  void countPromptTokens(std::int64_t tokens);
  void countGeneratedToken();
  void observeTimeToFirstToken(double seconds);
  void observeInterTokenLatency(double seconds);
  void observeRequestLatency(double seconds);
  void setLoad(int batch, int queue, int blocks_in_use, int blocks_total);

  std::string prometheusText() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::int64_t> requests_;
  std::int64_t prompt_tokens_ = 0;
  std::int64_t generated_tokens_ = 0;
  LatencyHistogram time_to_first_token_;
  LatencyHistogram inter_token_latency_;
  LatencyHistogram request_latency_;
  int batch_ = 0, queue_ = 0, blocks_in_use_ = 0, blocks_total_ = 0;
};

}  // namespace behemoth
