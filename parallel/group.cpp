#include "parallel/group.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <thread>
#include <utility>

#include "parallel/activity.h"
#include "parallel/step_profile.h"
#include "parallel/two_byte_reduction.h"

namespace behemoth {
namespace {

int64_t byteSize(const at::Tensor& tensor) { return tensor.numel() * static_cast<int64_t>(tensor.element_size()); }

// Collectives that only move data run on a flat byte view, so every dtype works (gloo 1.13 rejects
// bf16 outright) and the bytes on the wire equal the tensor's own bytes.
at::Tensor asFlatBytes(const at::Tensor& contiguous) { return contiguous.reshape({-1}).view(at::kByte); }
at::Tensor fromFlatBytes(const at::Tensor& bytes, const at::Tensor& like) {
  return bytes.view(like.scalar_type()).view(like.sizes());
}

c10d::ReduceOp backendOp(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Avg: return c10d::ReduceOp::SUM;  // divided by the group size afterwards
    case ReduceOp::Max: return c10d::ReduceOp::MAX;
    case ReduceOp::Min: return c10d::ReduceOp::MIN;
  }
  return c10d::ReduceOp::SUM;
}

// Turns the sum a backend computed into the average (integers round toward -inf, as torch does).
void divideBySize(at::Tensor& sum, int size) {
  if (at::isFloatingType(sum.scalar_type())) {
    sum.div_(size);
  } else {
    sum.div_(size, "floor");
  }
}

std::string groupPhrase(const std::string& label) {
  if (label == "world") return "the world group";
  return (label.find('+') == std::string::npos ? "axis " : "axes ") + label;
}

std::string secondsText(std::chrono::milliseconds timeout) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", static_cast<double>(timeout.count()) / 1000.0);
  return buffer;
}

std::string firstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

bool contains(const std::string& text, const char* needle) { return text.find(needle) != std::string::npos; }

std::string errorText(const std::exception& error) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&error)) return c10_error->what_without_backtrace();
  return error.what();
}

int64_t wrapDim(int64_t dim, const at::Tensor& tensor, const char* operation) {
  const int64_t rank = tensor.dim();
  const int64_t wrapped = dim < 0 ? dim + rank : dim;
  if (wrapped < 0 || wrapped >= rank) {
    throw std::invalid_argument(std::string(operation) + ": dim " + std::to_string(dim) + " is out of range for a " +
                                std::to_string(rank) + "-d tensor");
  }
  return wrapped;
}

// Starts an all_to_all of equal byte blocks (the 2-byte reductions' exchange); a backend error
// becomes the collective's one-line failure message.
c10::intrusive_ptr<c10d::Work> startEqualAllToAll(C10dBackend& backend, at::Tensor& receive, at::Tensor& send,
                                                  const std::string& description, std::chrono::milliseconds timeout) {
  try {
    std::vector<int64_t> equal_splits;
    return backend.alltoall_base(receive, send, equal_splits, equal_splits);
  } catch (const std::exception& error) {
    throw std::runtime_error(collectiveFailureMessage(description, errorText(error), timeout));
  }
}

}  // namespace

std::string collectiveFailureMessage(const std::string& description, const std::string& backend_error,
                                     std::chrono::milliseconds timeout) {
  const std::string cause = firstLine(backend_error);
  if (contains(cause, "imed out") || contains(cause, "imeout")) {
    return description + " timed out after " + secondsText(timeout) + " s (a peer rank is missing or stuck): " + cause;
  }
  if (contains(cause, "onnection closed") || contains(cause, "reset by peer") || contains(cause, "roken pipe")) {
    return description + " failed: connection closed by peer (a peer rank exited or crashed): " + cause;
  }
  return description + " failed: " + cause;
}

// ---- PendingWork ----

PendingWork::PendingWork(c10::intrusive_ptr<c10d::Work> work, std::function<void()> finish, std::string description,
                         std::chrono::milliseconds timeout, bool bounded)
    : work_(std::move(work)),
      finish_(std::move(finish)),
      description_(std::move(description)),
      timeout_(timeout),
      bounded_(bounded) {}

PendingWork::PendingWork(PendingWork&& other) noexcept
    : work_(std::move(other.work_)),
      finish_(std::move(other.finish_)),
      description_(std::move(other.description_)),
      timeout_(other.timeout_),
      bounded_(other.bounded_) {
  other.work_.reset();
  other.finish_ = nullptr;
}

PendingWork& PendingWork::operator=(PendingWork&& other) noexcept {
  if (this != &other) {
    try {
      wait();
    } catch (const std::exception& error) {
      std::cerr << "behemoth: dropped a failed collective: " << error.what() << '\n';
    }
    work_ = std::move(other.work_);
    finish_ = std::move(other.finish_);
    description_ = std::move(other.description_);
    timeout_ = other.timeout_;
    bounded_ = other.bounded_;
    other.work_.reset();
    other.finish_ = nullptr;
  }
  return *this;
}

PendingWork::~PendingWork() {
  // A destructor must not throw; an unwaited failure is reported instead of lost silently.
  try {
    wait();
  } catch (const std::exception& error) {
    std::cerr << "behemoth: a collective nobody waited for failed: " << error.what() << '\n';
  }
}

namespace {

// Gloo's worker thread drops its reference to a finished work a moment after wait() returns. Waiting
// for it to let go makes the work, and the tensors it holds, die on this thread, not on the worker's
// at a time that depends on scheduling: tensor memory counted around a collective (activation
// bytes, the device budget) then does not change with the machine's load. Bounded: a backend that
// keeps its reference leaves the release to it, as before.
void releaseOnThisThread(c10::intrusive_ptr<c10d::Work>& work) {
  for (int spin = 0; work.use_count() > 1 && spin < 1000000; ++spin) std::this_thread::yield();
  work.reset();
}

}  // namespace

void PendingWork::wait() {
  auto work = std::move(work_);
  auto finish = std::move(finish_);
  work_.reset();
  finish_ = nullptr;
  if (work) {
    ActivityScope scope(("waiting for " + description_).c_str());
    const ProfileScope profile(OpKind::communication);
    try {
      if (bounded_) {
        work->wait(timeout_);
      } else {
        work->wait();
      }
    } catch (const std::exception& error) {
      throw std::runtime_error(collectiveFailureMessage(description_, errorText(error), timeout_));
    }
    releaseOnThisThread(work);
  }
  if (finish) finish();
}

// ---- Group ----

Group::Group(GroupSpec spec, CommCounter& counter, c10::intrusive_ptr<C10dBackend> backend)
    : spec_(std::move(spec)), counter_(counter), backend_(std::move(backend)) {
  const auto me = std::find(spec_.ranks.begin(), spec_.ranks.end(), spec_.world_rank);
  if (me == spec_.ranks.end()) {
    throw std::invalid_argument("Group " + spec_.label + ": rank " + std::to_string(spec_.world_rank) +
                                " is not a member of its own group");
  }
  my_index_ = static_cast<int>(me - spec_.ranks.begin());
  if ((size() > 1) != static_cast<bool>(backend_)) {
    throw std::invalid_argument("Group " + spec_.label + ": a backend is needed exactly when the group has more than one rank");
  }
}

Group::~Group() = default;

std::string Group::describe(const char* operation, int64_t bytes) const {
  return "rank " + std::to_string(spec_.world_rank) + ": " + operation + " on " + groupPhrase(spec_.label) + " (" +
         std::to_string(bytes) + " bytes)";
}

void Group::runBlocking(const char* operation, int64_t bytes,
                        const std::function<c10::intrusive_ptr<c10d::Work>()>& launch) {
  const std::string description = describe(operation, bytes);
  ActivityScope scope(description.c_str());
  const ProfileScope profile(OpKind::communication);
  c10::intrusive_ptr<c10d::Work> work;
  try {
    work = launch();
    work->wait();
  } catch (const std::exception& error) {
    throw std::runtime_error(collectiveFailureMessage(description, errorText(error), spec_.timeout));
  }
  releaseOnThisThread(work);
}

void Group::allReduce(at::Tensor& tensor, ReduceOp op) {
  if (reducesByExchange(tensor)) {
    allReduceAsync(tensor, op).wait();
    return;
  }
  const int64_t bytes = byteSize(tensor);
  counter_.add(spec_.label, allReduceBusBytes(bytes, size()));
  if (size() == 1) return;

  at::Tensor work_tensor = tensor.contiguous();
  c10d::AllreduceOptions options;
  options.reduceOp = backendOp(op);
  runBlocking("all_reduce", bytes, [&] {
    std::vector<at::Tensor> tensors{work_tensor};
    return backend_->allreduce(tensors, options);
  });
  if (op == ReduceOp::Avg) divideBySize(work_tensor, size());
  if (!work_tensor.is_same(tensor)) tensor.copy_(work_tensor);
}

PendingWork Group::allReduceAsync(at::Tensor& tensor, ReduceOp op) {
  const bool exchange = reducesByExchange(tensor);
  const int64_t bytes = byteSize(tensor);
  counter_.add(spec_.label, exchange ? paddedAllReduceBusBytes(tensor.numel(), static_cast<int>(tensor.element_size()), size())
                                     : allReduceBusBytes(bytes, size()));
  if (size() == 1) return PendingWork();
  if (exchange) return exchangeAllReduce(tensor, op);

  at::Tensor work_tensor = tensor.contiguous();
  const std::string description = describe("all_reduce", bytes);
  c10::intrusive_ptr<c10d::Work> work;
  try {
    std::vector<at::Tensor> tensors{work_tensor};
    c10d::AllreduceOptions options;
    options.reduceOp = backendOp(op);
    work = backend_->allreduce(tensors, options);
  } catch (const std::exception& error) {
    throw std::runtime_error(collectiveFailureMessage(description, errorText(error), spec_.timeout));
  }
  std::function<void()> finish;
  if (op == ReduceOp::Avg || !work_tensor.is_same(tensor)) {
    // The caller's tensor is a handle to the same storage; a staging copy is copied back into it.
    finish = [target = tensor, work_tensor, average = op == ReduceOp::Avg, n = size()]() mutable {
      if (average) divideBySize(work_tensor, n);
      if (!work_tensor.is_same(target)) target.copy_(work_tensor);
    };
  }
  return PendingWork(std::move(work), std::move(finish), description, spec_.timeout);
}

PendingWork Group::exchangeAllReduce(at::Tensor& tensor, ReduceOp op) {
  const int n = size();
  const int64_t numel = tensor.numel();
  if (numel == 0) return PendingWork();
  const int64_t padded_numel = shardPaddedElements(numel, n);
  const int64_t shard = padded_numel / n;
  const std::string description = describe("all_reduce", byteSize(tensor));
  // Shard j is block j of `padded`, so an equal-split all_to_all brings every rank each rank's copy
  // of its own shard. A contiguous tensor the group divides is sent as it is and gathered in place.
  const bool in_place = tensor.is_contiguous() && padded_numel == numel;
  at::Tensor padded = in_place ? tensor.view({-1}) : at::zeros({padded_numel}, tensor.options());
  if (!in_place) padded.narrow(0, 0, numel).copy_(tensor.reshape({-1}));
  at::Tensor send = asFlatBytes(padded);
  at::Tensor receive = at::empty_like(send);
  c10::intrusive_ptr<c10d::Work> work = startEqualAllToAll(*backend_, receive, send, description, spec_.timeout);
  // After the all_to_all: reduce this rank's shard, then all_gather every rank's reduced shard
  // into `padded` (free again) and copy the result out of the padding.
  std::function<void()> finish = [target = tensor, padded, receive, op, n, shard, in_place, backend = backend_,
                                  description, timeout = spec_.timeout]() mutable {
    const at::Tensor mine = reduceShardPieces(fromFlatBytes(receive, padded).view({n, shard}), op);
    const int64_t shard_bytes = byteSize(mine);
    const at::Tensor gathered = asFlatBytes(padded);
    std::vector<at::Tensor> inputs{asFlatBytes(mine)};
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int r = 0; r < n; ++r) outputs[0].push_back(gathered.narrow(0, r * shard_bytes, shard_bytes));
    const std::string activity = description + ": all_gather of the reduced shards";
    ActivityScope scope(activity.c_str());
    try {
      backend->allgather(outputs, inputs)->wait();
    } catch (const std::exception& error) {
      throw std::runtime_error(collectiveFailureMessage(description, errorText(error), timeout));
    }
    if (!in_place) target.copy_(padded.narrow(0, 0, target.numel()).view(target.sizes()));
  };
  return PendingWork(std::move(work), std::move(finish), description, spec_.timeout);
}

at::Tensor Group::allGather(const at::Tensor& tensor, int64_t dim) {
  const int64_t gather_dim = wrapDim(dim, tensor, "all_gather");
  const int64_t bytes = byteSize(tensor);
  counter_.add(spec_.label, allGatherBusBytes(bytes * size(), size()));
  if (size() == 1) return tensor.clone();

  const at::Tensor input = tensor.contiguous();
  std::vector<at::Tensor> inputs{asFlatBytes(input)};
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int i = 0; i < size(); ++i) outputs[0].push_back(at::empty_like(inputs[0]));
  runBlocking("all_gather", bytes * size(), [&] { return backend_->allgather(outputs, inputs); });

  std::vector<at::Tensor> pieces;
  pieces.reserve(size());
  for (const at::Tensor& received : outputs[0]) pieces.push_back(fromFlatBytes(received, input));
  return at::cat(pieces, gather_dim);
}

void Group::allGatherInto(const at::Tensor& shard, at::Tensor& output) {
  const int64_t bytes = byteSize(shard);
  if (!output.is_contiguous() || output.dim() != 1 || output.numel() != shard.numel() * size() ||
      output.scalar_type() != shard.scalar_type()) {
    throw std::invalid_argument(describe("all_gather", bytes * size()) + ": the output must be a contiguous 1-D " +
                                "tensor of " + std::to_string(shard.numel() * size()) + " elements of the shard's dtype");
  }
  counter_.add(spec_.label, allGatherBusBytes(bytes * size(), size()));
  const at::Tensor input = shard.contiguous().reshape({-1});
  if (size() == 1) {
    output.copy_(input);
    return;
  }
  std::vector<at::Tensor> inputs{asFlatBytes(input)};
  const at::Tensor flat_output = asFlatBytes(output);
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int r = 0; r < size(); ++r) outputs[0].push_back(flat_output.narrow(0, r * bytes, bytes));
  runBlocking("all_gather", bytes * size(), [&] { return backend_->allgather(outputs, inputs); });
}

std::vector<at::Tensor> Group::exchangeChunks(const at::Tensor& tensor, int64_t split_dim, const char* operation,
                                              int64_t counted_bytes) {
  const int64_t dim_size = tensor.size(split_dim);
  if (dim_size % size() != 0) {
    throw std::invalid_argument(describe(operation, byteSize(tensor)) + ": dim " + std::to_string(split_dim) +
                                " has size " + std::to_string(dim_size) + ", not divisible by the group size " +
                                std::to_string(size()));
  }
  if (size() == 1) return {tensor};

  // Lay chunk j out as the j-th contiguous block, so an equal-split all_to_all sends it to rank j.
  const at::Tensor stacked = at::stack(tensor.chunk(size(), split_dim), 0).contiguous();
  at::Tensor send = asFlatBytes(stacked);
  at::Tensor receive = at::empty_like(send);
  runBlocking(operation, counted_bytes, [&] {
    std::vector<int64_t> equal_splits;
    return backend_->alltoall_base(receive, send, equal_splits, equal_splits);
  });
  const at::Tensor received = fromFlatBytes(receive, stacked);
  std::vector<at::Tensor> chunks;
  chunks.reserve(size());
  for (int i = 0; i < size(); ++i) chunks.push_back(received.select(0, i));
  return chunks;
}

at::Tensor Group::reduceScatter(const at::Tensor& tensor, int64_t dim) {
  const int64_t scatter_dim = wrapDim(dim, tensor, "reduce_scatter");
  const int64_t bytes = byteSize(tensor);
  // gloo 1.13 has no reduce_scatter: exchange chunks with all_to_all (each rank sends exactly the
  // (n-1)/n of its input that others own) and sum locally.
  std::vector<at::Tensor> chunks = exchangeChunks(tensor, scatter_dim, "reduce_scatter", bytes);
  counter_.add(spec_.label, reduceScatterBusBytes(bytes, size()));
  if (size() == 1) return tensor.clone();
  const at::Tensor stacked = at::stack(chunks, 0);
  if (reducesByExchange(stacked)) return reduceShardPieces(stacked, ReduceOp::Sum);
  return stacked.sum(0);
}

PendingWork Group::reduceScatterAsync(const at::Tensor& input, int64_t dim, at::Tensor& output) {
  const int64_t scatter_dim = wrapDim(dim, input, "reduce_scatter");
  const int64_t bytes = byteSize(input);
  const int64_t dim_size = input.size(scatter_dim);
  if (dim_size % size() != 0) {
    throw std::invalid_argument(describe("reduce_scatter", bytes) + ": dim " + std::to_string(scatter_dim) +
                                " has size " + std::to_string(dim_size) + ", not divisible by the group size " +
                                std::to_string(size()));
  }
  counter_.add(spec_.label, reduceScatterBusBytes(bytes, size()));
  if (size() == 1) {
    output = input.clone();
    return PendingWork();
  }

  // The same all_to_all exchange as reduceScatter, left in flight; the finish step sums the chunks.
  // The staging copy also frees the caller to change `input` right after this returns.
  const at::Tensor stacked = at::stack(input.chunk(size(), scatter_dim), 0).contiguous();
  at::Tensor send = asFlatBytes(stacked);
  at::Tensor receive = at::empty_like(send);
  const std::string description = describe("reduce_scatter", bytes);
  c10::intrusive_ptr<c10d::Work> work = startEqualAllToAll(*backend_, receive, send, description, spec_.timeout);
  // `output` and the finish step share one storage, so the caller sees the sum after wait().
  output = at::empty(stacked.select(0, 0).sizes(), input.options());
  std::function<void()> finish = [target = output, send, receive, stacked]() mutable {
    const at::Tensor received = fromFlatBytes(receive, stacked);
    // 2-byte floats: fp32 accumulation in rank order and one rounding, as reduceScatter does.
    target.copy_(reducesByExchange(received) ? reduceShardPieces(received, ReduceOp::Sum) : received.sum(0));
  };
  return PendingWork(std::move(work), std::move(finish), description, spec_.timeout);
}

at::Tensor Group::allToAll(const at::Tensor& tensor, int64_t split_dim, int64_t concat_dim) {
  const int64_t split = wrapDim(split_dim, tensor, "all_to_all");
  const int64_t concat = wrapDim(concat_dim, tensor, "all_to_all");
  const int64_t bytes = byteSize(tensor);
  std::vector<at::Tensor> chunks = exchangeChunks(tensor, split, "all_to_all", bytes);
  counter_.add(spec_.label, allToAllBusBytes(bytes, size()));
  if (size() == 1) return tensor.clone();
  return at::cat(chunks, concat);
}

void Group::broadcast(at::Tensor& tensor, int root_group_rank) {
  if (root_group_rank < 0 || root_group_rank >= size()) {
    throw std::invalid_argument(describe("broadcast", byteSize(tensor)) + ": root " + std::to_string(root_group_rank) +
                                " is outside a group of " + std::to_string(size()));
  }
  const int64_t bytes = byteSize(tensor);
  counter_.add(spec_.label, broadcastBusBytes(bytes, size()));
  if (size() == 1) return;

  at::Tensor work_tensor = tensor.contiguous();
  std::vector<at::Tensor> tensors{asFlatBytes(work_tensor)};
  c10d::BroadcastOptions options;
  options.rootRank = root_group_rank;
  runBlocking("broadcast", bytes, [&] { return backend_->broadcast(tensors, options); });
  if (!work_tensor.is_same(tensor)) tensor.copy_(work_tensor);
}

PendingWork Group::sendAsync(const at::Tensor& tensor, int peer, int tag, const std::string& what) {
  const int64_t bytes = byteSize(tensor);
  const std::string description = "rank " + std::to_string(spec_.world_rank) + ": " + what + " (" + std::to_string(bytes) + " bytes)";
  if (peer < 0 || peer >= size() || peer == rank()) {
    throw std::invalid_argument(description + ": peer " + std::to_string(peer) + " is not another rank of " + groupPhrase(spec_.label));
  }
  counter_.add(spec_.label, bytes);
  // The flat byte view keeps the data alive until the send completes (the work holds it).
  std::vector<at::Tensor> tensors{asFlatBytes(tensor.contiguous())};
  c10::intrusive_ptr<c10d::Work> work;
  try {
    work = backend_->send(tensors, peer, tag);
  } catch (const std::exception& error) {
    throw std::runtime_error(collectiveFailureMessage(description, errorText(error), spec_.timeout));
  }
  // The tensors must outlive the transfer: the finish step holds them until wait().
  return PendingWork(std::move(work), [keep = tensors]() {}, description, spec_.timeout, /*bounded=*/true);
}

PendingWork Group::recvAsync(at::Tensor& tensor, int peer, int tag, const std::string& what) {
  const int64_t bytes = byteSize(tensor);
  const std::string description = "rank " + std::to_string(spec_.world_rank) + ": " + what + " (" + std::to_string(bytes) + " bytes)";
  if (peer < 0 || peer >= size() || peer == rank()) {
    throw std::invalid_argument(description + ": peer " + std::to_string(peer) + " is not another rank of " + groupPhrase(spec_.label));
  }
  if (!tensor.is_contiguous()) throw std::invalid_argument(description + ": the receive buffer must be contiguous");
  std::vector<at::Tensor> tensors{asFlatBytes(tensor)};
  c10::intrusive_ptr<c10d::Work> work;
  try {
    work = backend_->recv(tensors, peer, tag);
  } catch (const std::exception& error) {
    throw std::runtime_error(collectiveFailureMessage(description, errorText(error), spec_.timeout));
  }
  return PendingWork(std::move(work), [keep = tensors]() {}, description, spec_.timeout, /*bounded=*/true);
}

void Group::barrier() {
  if (size() == 1) return;
  runBlocking("barrier", 0, [&] { return backend_->barrier(); });
}

}  // namespace behemoth
