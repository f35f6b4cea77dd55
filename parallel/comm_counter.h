// Bytes moved by collectives, per group label ("dp", "tp", "dp+tp", "world") and in total.
//
// Definition (the ring / "bus bytes" model of nccl-tests, counted per rank): for a collective over
// n ranks,
//   all_reduce of S bytes             : 2*(n-1)*S/n
//   reduce_scatter with full input S  : (n-1)*S/n
//   all_gather with full output S     : (n-1)*S/n
//   all_to_all of S bytes per rank    : (n-1)*S/n
//   broadcast of S bytes              : S
//   any collective with n == 1        : 0
// computed as (k*(n-1)*S)/n in 64-bit integers (floor). The memory/time model and the tests use
// the same functions, so estimates and measurements agree by construction.
//
// S is what the backend is handed, after any conversion. A 2-byte floating all-reduce on gloo
// (parallel/group.h) travels as an all_to_all plus an all_gather of the tensor zero-padded to a
// multiple of n elements, so it counts 2*(n-1)/n of the padded bytes: allReduceBusBytes of the
// tensor itself whenever n divides its element count, and the padding it sends otherwise.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace behemoth {

int64_t allReduceBusBytes(int64_t bytes, int n);
int64_t reduceScatterBusBytes(int64_t full_input_bytes, int n);
int64_t allGatherBusBytes(int64_t full_output_bytes, int n);
int64_t allToAllBusBytes(int64_t bytes_per_rank, int n);
int64_t broadcastBusBytes(int64_t bytes, int n);

// Elements of a flat tensor of `elements` padded to a multiple of n (n equal shards).
int64_t shardPaddedElements(int64_t elements, int n);
// Bus bytes of the padded exchange all-reduce above: allReduceBusBytes(padded elements * element_bytes, n).
int64_t paddedAllReduceBusBytes(int64_t elements, int element_bytes, int n);

// Thread-safe: collectives may be counted from a backward hook while the main thread reads.
class CommCounter {
 public:
  void add(const std::string& label, int64_t bytes);
  int64_t total() const;
  std::map<std::string, int64_t> byLabel() const;
  // Returns the total and resets every count (a training step reads its own traffic this way).
  int64_t takeTotal();
  void reset();

 private:
  mutable std::mutex mutex_;
  std::map<std::string, int64_t> by_label_;
  int64_t total_ = 0;
};

}  // namespace behemoth
