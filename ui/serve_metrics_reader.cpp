#include "ui/serve_metrics_reader.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace behemoth::ui {
namespace {

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

[[noreturn]] void refuse(int line, const std::string& why) {
  throw std::invalid_argument("metrics line " + std::to_string(line) + ": " + why);
}

bool nameCharacter(char c, bool first) {
  const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
  return letter || (!first && c >= '0' && c <= '9');
}

// from_chars and not strtod: the Studio runs under the user's locale, whose decimal mark may be a
// comma, and Prometheus numbers always use a dot.
bool readNumber(const std::string& token, double& value) {
  std::string_view text(token);
  bool negative = false;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty()) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return false;
  if (negative) value = -value;
  return true;
}

std::string keyOf(const std::string& name, const Labels& labels) {
  if (labels.empty()) return name;
  std::string key = name + "{";
  bool first = true;
  for (const auto& [label, value] : labels) {
    if (!first) key += ",";
    first = false;
    std::string escaped;
    for (const char c : value) {
      if (c == '"' || c == '\\') escaped += '\\';
      escaped += c == '\n' ? std::string("\\n") : std::string(1, c);
    }
    key += label + "=\"" + escaped + "\"";
  }
  return key + "}";
}

// `name{label="value",...} value [timestamp]`.
Sample readSample(const std::string& line, int number) {
  Sample sample;
  std::size_t at = 0;
  while (at < line.size() && nameCharacter(line[at], at == 0)) ++at;
  if (at == 0) refuse(number, "expected a metric name, got '" + line + "'");
  sample.name = line.substr(0, at);
  if (at < line.size() && line[at] == '{') {
    ++at;
    while (true) {
      while (at < line.size() && (line[at] == ' ' || line[at] == ',')) ++at;
      if (at < line.size() && line[at] == '}') {
        ++at;
        break;
      }
      const std::size_t start = at;
      while (at < line.size() && nameCharacter(line[at], at == start)) ++at;
      if (at == start || at + 1 >= line.size() || line[at] != '=' || line[at + 1] != '"') {
        refuse(number, "malformed labels in '" + line + "'");
      }
      const std::string label = line.substr(start, at - start);
      at += 2;
      std::string value;
      while (at < line.size() && line[at] != '"') {
        if (line[at] == '\\' && at + 1 < line.size()) {
          ++at;
          value += line[at] == 'n' ? '\n' : line[at];
        } else {
          value += line[at];
        }
        ++at;
      }
      if (at >= line.size()) refuse(number, "unterminated label value in '" + line + "'");
      ++at;  // the closing quote
      sample.labels[label] = value;
    }
  }
  std::istringstream rest(line.substr(at));
  std::string value;
  if (!(rest >> value) || !readNumber(value, sample.value)) refuse(number, "expected a value after " + sample.name);
  return sample;
}

// Strips `suffix` from `name` when the rest is a histogram's base name.
bool histogramPart(const std::string& name, const std::string& suffix, const std::map<std::string, std::string>& types,
                   std::string& base) {
  if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  base = name.substr(0, name.size() - suffix.size());
  const auto type = types.find(base);
  return type != types.end() && type->second == "histogram";
}

}  // namespace

double MetricsScrape::counter(const std::string& key) const {
  const auto found = counters.find(key);
  return found == counters.end() ? 0.0 : found->second;
}

double MetricsScrape::gauge(const std::string& key) const {
  const auto found = gauges.find(key);
  return found == gauges.end() ? 0.0 : found->second;
}

double MetricsScrape::counterSum(const std::string& name) const {
  double total = 0;
  for (const auto& [key, value] : counters) {
    if (key == name || key.rfind(name + "{", 0) == 0) total += value;
  }
  return total;
}

const HistogramBuckets* MetricsScrape::histogram(const std::string& name) const {
  const auto found = histograms.find(name);
  return found == histograms.end() ? nullptr : &found->second;
}

MetricsScrape parsePrometheusText(const std::string& text) {
  MetricsScrape scrape;
  std::map<std::string, std::string> types;               // base name -> counter, gauge, histogram...
  std::map<std::string, std::map<double, double>> buckets;  // histogram key -> bound -> cumulative count
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    line.erase(0, first);
    if (line[0] == '#') {
      std::istringstream words(line.substr(1));
      std::string keyword, name, type;
      if (words >> keyword >> name >> type && keyword == "TYPE") types[name] = type;
      continue;  // HELP and comments
    }
    Sample sample = readSample(line, number);
    std::string base;
    if (histogramPart(sample.name, "_bucket", types, base)) {
      const auto le = sample.labels.find("le");
      if (le == sample.labels.end()) refuse(number, sample.name + " has no le label");
      double bound = 0;
      if (!readNumber(le->second, bound)) refuse(number, "le=\"" + le->second + "\" is not a number");
      sample.labels.erase(le);
      buckets[keyOf(base, sample.labels)][bound] = sample.value;
    } else if (histogramPart(sample.name, "_sum", types, base)) {
      scrape.histograms[keyOf(base, sample.labels)].sum = sample.value;
    } else if (histogramPart(sample.name, "_count", types, base)) {
      scrape.histograms[keyOf(base, sample.labels)].count = sample.value;
    } else {
      const auto type = types.find(sample.name);
      const bool is_counter = type != types.end() && type->second == "counter";
      (is_counter ? scrape.counters : scrape.gauges)[keyOf(sample.name, sample.labels)] = sample.value;
    }
  }
  // Buckets in bound order; the map sorted them, whatever order the lines came in.
  for (const auto& [key, by_bound] : buckets) {
    HistogramBuckets& histogram = scrape.histograms[key];
    for (const auto& [bound, count] : by_bound) {
      histogram.bounds.push_back(bound);
      histogram.counts.push_back(count);
    }
  }
  return scrape;
}

double histogramQuantile(double q, const HistogramBuckets& histogram) {
  const std::size_t n = histogram.bounds.size();
  if (n == 0 || histogram.counts.size() != n || histogram.counts.back() <= 0) return std::numeric_limits<double>::quiet_NaN();
  if (q <= 0) q = 0;
  if (q >= 1) q = 1;
  const double rank = q * histogram.counts.back();
  std::size_t bucket = 0;
  while (bucket + 1 < n && histogram.counts[bucket] < rank) ++bucket;
  // Past every finite bound: the largest one is all that is known.
  if (std::isinf(histogram.bounds[bucket])) return n >= 2 ? histogram.bounds[n - 2] : std::numeric_limits<double>::quiet_NaN();
  const double upper = histogram.bounds[bucket];
  const double lower = bucket == 0 ? std::min(0.0, upper) : histogram.bounds[bucket - 1];
  const double below = bucket == 0 ? 0.0 : histogram.counts[bucket - 1];
  const double inside = histogram.counts[bucket] - below;
  if (inside <= 0) return upper;
  return lower + (upper - lower) * (rank - below) / inside;
}

HistogramBuckets histogramDifference(const HistogramBuckets& later, const HistogramBuckets& earlier) {
  if (later.bounds != earlier.bounds || later.count < earlier.count) return later;
  HistogramBuckets difference = later;
  for (std::size_t i = 0; i < difference.counts.size(); ++i) difference.counts[i] -= earlier.counts[i];
  difference.sum -= earlier.sum;
  difference.count -= earlier.count;
  return difference;
}

double counterRate(double later, double earlier, double seconds) {
  if (seconds <= 0) return 0;
  return (later >= earlier ? later - earlier : later) / seconds;
}

}  // namespace behemoth::ui
