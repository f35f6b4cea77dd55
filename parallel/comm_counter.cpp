#include "parallel/comm_counter.h"

#include <stdexcept>
#include <string>

namespace behemoth {
namespace {

int64_t ringBytes(int64_t factor, int64_t bytes, int n, const char* operation) {
  if (n < 1) throw std::invalid_argument(std::string(operation) + ": group size must be >= 1, got " + std::to_string(n));
  if (bytes < 0) throw std::invalid_argument(std::string(operation) + ": negative byte count " + std::to_string(bytes));
  return (factor * (n - 1) * bytes) / n;
}

}  // namespace

int64_t allReduceBusBytes(int64_t bytes, int n) { return ringBytes(2, bytes, n, "all_reduce"); }
int64_t reduceScatterBusBytes(int64_t full_input_bytes, int n) {
  return ringBytes(1, full_input_bytes, n, "reduce_scatter");
}
int64_t allGatherBusBytes(int64_t full_output_bytes, int n) { return ringBytes(1, full_output_bytes, n, "all_gather"); }
int64_t allToAllBusBytes(int64_t bytes_per_rank, int n) { return ringBytes(1, bytes_per_rank, n, "all_to_all"); }
int64_t broadcastBusBytes(int64_t bytes, int n) {
  if (n < 1) throw std::invalid_argument("broadcast: group size must be >= 1, got " + std::to_string(n));
  return n == 1 ? 0 : bytes;
}

int64_t shardPaddedElements(int64_t elements, int n) {
  if (n < 1) throw std::invalid_argument("shardPaddedElements: group size must be >= 1, got " + std::to_string(n));
  if (elements < 0) throw std::invalid_argument("shardPaddedElements: negative element count " + std::to_string(elements));
  return (elements + n - 1) / n * n;
}

int64_t paddedAllReduceBusBytes(int64_t elements, int element_bytes, int n) {
  return allReduceBusBytes(shardPaddedElements(elements, n) * element_bytes, n);
}

void CommCounter::add(const std::string& label, int64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  by_label_[label] += bytes;
  total_ += bytes;
}

int64_t CommCounter::total() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return total_;
}

std::map<std::string, int64_t> CommCounter::byLabel() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return by_label_;
}

int64_t CommCounter::takeTotal() {
  std::lock_guard<std::mutex> lock(mutex_);
  const int64_t taken = total_;
  total_ = 0;
  by_label_.clear();
  return taken;
}

void CommCounter::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  total_ = 0;
  by_label_.clear();
}

}  // namespace behemoth
