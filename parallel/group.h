// A group of ranks (one or more mesh axes, or the whole world) and its collectives on CPU (gloo) or
// CUDA (NCCL) tensors. Every collective counts its bus bytes (see comm_counter.h) under the group's
// label, records the rank's Activity while it runs, and turns any backend failure or timeout into a
// std::runtime_error that names the rank, the group, the operation and the byte size.
//
// bf16 and fp16 CPU tensors are reduced in their own 2 bytes on the wire: an all_to_all of shards
// accumulated locally in fp32 and rounded once (two_byte_reduction.h); an all-reduce adds an
// all_gather of the reduced shards, on the tensor zero-padded to a multiple of the group size.
//
// A size-1 group has no backend: its collectives are cheap local no-ops that count 0 bytes.
#pragma once

#include <ATen/core/Tensor.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "parallel/c10d_backend.h"
#include "parallel/comm_counter.h"

namespace behemoth {

enum class ReduceOp { Sum, Avg, Max, Min };

// An asynchronous collective in flight. wait() finishes it (and copies results back where the
// collective ran on a staging copy); the destructor waits if nobody did. Move-only.
class PendingWork {
 public:
  PendingWork() = default;  // already complete
  // `bounded`: wait() gives up after `timeout` itself (point-to-point work, which no backend
  // timeout covers); otherwise the backend's own collective timeout applies.
  PendingWork(c10::intrusive_ptr<c10d::Work> work, std::function<void()> finish, std::string description,
              std::chrono::milliseconds timeout, bool bounded = false);
  PendingWork(PendingWork&& other) noexcept;
  PendingWork& operator=(PendingWork&& other) noexcept;
  PendingWork(const PendingWork&) = delete;
  PendingWork& operator=(const PendingWork&) = delete;
  ~PendingWork();

  // Throws std::runtime_error naming rank, group, operation and bytes on failure or timeout.
  void wait();
  bool pending() const { return static_cast<bool>(work_) || static_cast<bool>(finish_); }

 private:
  c10::intrusive_ptr<c10d::Work> work_;
  std::function<void()> finish_;
  std::string description_;
  std::chrono::milliseconds timeout_{0};
  bool bounded_ = false;
};

struct GroupSpec {
  std::string label;         // "dp", "dp+tp", "world"
  std::vector<int> ranks;    // global ranks, in group-rank order
  int world_rank = 0;        // this process's global rank
  std::chrono::milliseconds timeout{60000};
};

class Group {
 public:
  // `backend` is null exactly when the group has one rank.
  Group(GroupSpec spec, CommCounter& counter, c10::intrusive_ptr<C10dBackend> backend);
  ~Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  const std::string& label() const { return spec_.label; }
  int size() const { return static_cast<int>(spec_.ranks.size()); }
  int rank() const { return my_index_; }  // my index inside the group
  const std::vector<int>& ranks() const { return spec_.ranks; }

  // Avg divides in the accumulation dtype (fp32 for 2-byte floats) before the result is rounded.
  void allReduce(at::Tensor& tensor, ReduceOp op = ReduceOp::Sum);
  // In place, overlapping with whatever the caller does until wait(); `tensor` must not change
  // until then. A 2-byte float's all_gather half runs inside wait().
  PendingWork allReduceAsync(at::Tensor& tensor, ReduceOp op = ReduceOp::Sum);
  // Concatenation of every rank's tensor along dim, in group-rank order.
  at::Tensor allGather(const at::Tensor& tensor, int64_t dim);
  // The same gather into a caller-owned buffer: `output` (contiguous, 1-D, size() * shard.numel()
  // elements of shard's dtype) receives every rank's flat shard in group-rank order. ZeRO-3 gathers
  // its chunks straight into their device-tier buffers this way.
  void allGatherInto(const at::Tensor& shard, at::Tensor& output);
  // Sum over ranks, then this rank's chunk along dim (dim's size must divide by size()).
  at::Tensor reduceScatter(const at::Tensor& tensor, int64_t dim);
  // reduceScatter overlapping with whatever the caller does: after wait(), `output` (set to a new
  // tensor of this rank's chunk shape, in the input's dtype) holds the sum. Counts the same bytes
  // as reduceScatter; a size-1 group completes at once.
  PendingWork reduceScatterAsync(const at::Tensor& input, int64_t dim, at::Tensor& output);
  // Chunk i along split_dim goes to group rank i; received chunks are concatenated along concat_dim.
  at::Tensor allToAll(const at::Tensor& tensor, int64_t split_dim, int64_t concat_dim);
  void broadcast(at::Tensor& tensor, int root_group_rank);
  // Point-to-point with group rank `peer` (pipeline stages). `tag` pairs a send with its receive;
  // `what` names the transfer in errors ("receive of the activation of micro-batch 3, chunk 0,
  // from pipeline stage 1"). The sender counts the bytes. recvAsync fills `tensor` (contiguous,
  // of the sender's shape and dtype) by the time wait() returns; wait() fails after the group's
  // timeout instead of hanging when the peer never sends.
  PendingWork sendAsync(const at::Tensor& tensor, int peer, int tag, const std::string& what);
  PendingWork recvAsync(at::Tensor& tensor, int peer, int tag, const std::string& what);
  void barrier();

 private:
  std::string describe(const char* operation, int64_t bytes) const;
  // The 2-byte floating all-reduce on gloo (two_byte_reduction.h); the caller has counted it.
  PendingWork exchangeAllReduce(at::Tensor& tensor, ReduceOp op);
  void runBlocking(const char* operation, int64_t bytes, const std::function<c10::intrusive_ptr<c10d::Work>()>& launch);
  std::vector<at::Tensor> exchangeChunks(const at::Tensor& tensor, int64_t split_dim, const char* operation,
                                         int64_t counted_bytes);

  GroupSpec spec_;
  CommCounter& counter_;
  c10::intrusive_ptr<C10dBackend> backend_;
  int my_index_ = 0;
};

// Wraps a backend error as "rank R: OP on axis A (N bytes) timed out after T s (...)" or "... failed: ...".
std::string collectiveFailureMessage(const std::string& description, const std::string& backend_error,
                                     std::chrono::milliseconds timeout);

}  // namespace behemoth
