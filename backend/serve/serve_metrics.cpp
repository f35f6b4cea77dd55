#include "backend/serve/serve_metrics.h"

#include <cstdio>

namespace behemoth {

namespace {

std::string number(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

std::vector<double> latencyBounds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

std::string gauge(const std::string& name, const std::string& help, std::int64_t value) {
  return "# HELP " + name + " " + help + "\n# TYPE " + name + " gauge\n" + name + " " + std::to_string(value) + "\n";
}

std::string counter(const std::string& name, const std::string& help, std::int64_t value) {
  return "# HELP " + name + " " + help + "\n# TYPE " + name + " counter\n" + name + " " + std::to_string(value) + "\n";
}

}  // namespace

LatencyHistogram::LatencyHistogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size(), 0) {}

void LatencyHistogram::observe(double seconds) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (seconds <= bounds_[i]) {
      ++counts_[i];
      break;
    }
  }
  ++count_;
  sum_ += seconds;
}

std::string LatencyHistogram::render(const std::string& name, const std::string& help) const {
  std::string text = "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  std::int64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    text += name + "_bucket{le=\"" + number(bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  text += name + "_bucket{le=\"+Inf\"} " + std::to_string(count_) + "\n";
  text += name + "_sum " + number(sum_) + "\n" + name + "_count " + std::to_string(count_) + "\n";
  return text;
}

ServeMetrics::ServeMetrics()
    : requests_{{"ok", 0}, {"cancelled", 0}, {"rejected", 0}, {"invalid", 0}},
      time_to_first_token_(latencyBounds()),
      inter_token_latency_(latencyBounds()),
      request_latency_(latencyBounds()) {}

void ServeMetrics::countRequest(const std::string& outcome) {
  const std::lock_guard lock(mutex_);
  ++requests_[outcome];
}

void ServeMetrics::countPromptTokens(std::int64_t tokens) {
  const std::lock_guard lock(mutex_);
  prompt_tokens_ += tokens;
}

void ServeMetrics::countGeneratedToken() {
  const std::lock_guard lock(mutex_);
  ++generated_tokens_;
}

void ServeMetrics::observeTimeToFirstToken(double seconds) {
  const std::lock_guard lock(mutex_);
  time_to_first_token_.observe(seconds);
}

void ServeMetrics::observeInterTokenLatency(double seconds) {
  const std::lock_guard lock(mutex_);
  inter_token_latency_.observe(seconds);
}

void ServeMetrics::observeRequestLatency(double seconds) {
  const std::lock_guard lock(mutex_);
  request_latency_.observe(seconds);
}

void ServeMetrics::setLoad(int batch, int queue, int blocks_in_use, int blocks_total) {
  const std::lock_guard lock(mutex_);
  batch_ = batch;
  queue_ = queue;
  blocks_in_use_ = blocks_in_use;
  blocks_total_ = blocks_total;
}

std::string ServeMetrics::prometheusText() const {
  const std::lock_guard lock(mutex_);
  std::string text = "# HELP behemoth_requests_total Completion requests by outcome.\n# TYPE behemoth_requests_total counter\n";
  for (const auto& [outcome, count] : requests_) {
    text += "behemoth_requests_total{outcome=\"" + outcome + "\"} " + std::to_string(count) + "\n";
  }
  text += counter("behemoth_prompt_tokens_total", "Prompt tokens of the requests that ran.", prompt_tokens_);
  text += counter("behemoth_generated_tokens_total", "Tokens generated.", generated_tokens_);
  text += time_to_first_token_.render("behemoth_time_to_first_token_seconds", "From a request's arrival to its first token.");
  text += inter_token_latency_.render("behemoth_inter_token_latency_seconds", "Between a request's consecutive tokens.");
  text += request_latency_.render("behemoth_request_latency_seconds", "From a request's arrival to its end.");
  text += gauge("behemoth_batch_size", "Sequences in the running batch.", batch_);
  text += gauge("behemoth_queue_length", "Requests waiting for a batch slot.", queue_);
  text += gauge("behemoth_kv_blocks_in_use", "KV-cache blocks held by sequences.", blocks_in_use_);
  text += gauge("behemoth_kv_blocks_total", "KV-cache blocks in the pool.", blocks_total_);
  return text;
}

}  // namespace behemoth
