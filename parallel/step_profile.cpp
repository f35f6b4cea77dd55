#include "parallel/step_profile.h"

#include <ATen/record_function.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <vector>

namespace behemoth {
namespace {

using Clock = std::chrono::steady_clock;

// The open frames of this thread: a top-level operator or a scope attributes its exclusive time
// (its own minus that of the attributing frames inside it); operators inside an attributing frame
// are part of it.
struct Frame {
  Clock::time_point start;
  OpKind kind;
  bool attributing;
  double claimed_s = 0;  // time of attributing frames inside this one
};
thread_local std::vector<Frame> frames;

std::atomic<bool> running{false};
std::array<std::atomic<long long>, kOpKindCount> totals_ns{};

bool contains(std::string_view name, std::string_view part) { return name.find(part) != std::string_view::npos; }

void open(OpKind kind, bool attributing) { frames.push_back({Clock::now(), kind, attributing}); }

void close() {
  if (frames.empty()) return;
  const Frame frame = frames.back();
  frames.pop_back();
  if (!frame.attributing) return;
  const double elapsed = std::chrono::duration<double>(Clock::now() - frame.start).count();
  totals_ns[static_cast<int>(frame.kind)] += static_cast<long long>((elapsed - frame.claimed_s) * 1e9);
  // The nearest attributing frame around this one does not count this time as its own.
  for (auto outer = frames.rbegin(); outer != frames.rend(); ++outer) {
    if (outer->attributing) {
      outer->claimed_s += elapsed;
      break;
    }
  }
}

bool insideAttributing() {
  for (const Frame& frame : frames) {
    if (frame.attributing) return true;
  }
  return false;
}

std::unique_ptr<at::ObserverContext> onStart(const at::RecordFunction& function) {
  // Only the outermost operator is classified: the ops a kernel calls are part of it.
  const bool top = !insideAttributing();
  open(top ? classifyOperator(function.name()) : OpKind::elementwise, top);
  return nullptr;
}

void onEnd(const at::RecordFunction&, at::ObserverContext*) { close(); }

}  // namespace

const char* opKindName(OpKind kind) {
  switch (kind) {
    case OpKind::matmul: return "matmul";
    case OpKind::attention: return "attention";
    case OpKind::norm: return "norm";
    case OpKind::activation: return "activation";
    case OpKind::loss: return "loss";
    case OpKind::embedding: return "embedding";
    case OpKind::elementwise: return "elementwise";
    case OpKind::optimizer: return "optimizer";
    case OpKind::communication: return "communication";
    case OpKind::kind_count: break;
  }
  return "?";
}

OpKind classifyOperator(std::string_view name) {
  if (contains(name, "ttention") || contains(name, "softmax") || contains(name, "Softmax") || contains(name, "bmm") ||
      contains(name, "Bmm")) {
    return contains(name, "log_softmax") || contains(name, "LogSoftmax") ? OpKind::loss : OpKind::attention;
  }
  if (contains(name, "::mm") || contains(name, "addmm") || contains(name, "linear") || contains(name, "matmul") ||
      contains(name, "MmBackward") || contains(name, "Addmm") || contains(name, "Linear") || contains(name, "Matmul")) {
    return OpKind::matmul;
  }
  // The fused kernels' nodes are CppNode<...FusedNorm>, <...FusedAddNorm>, <...FusedGelu>, <...FusedSwiglu>.
  if (contains(name, "layer_norm") || contains(name, "LayerNorm") || contains(name, "rms") || contains(name, "Rms") ||
      contains(name, "FusedNorm") || contains(name, "FusedAddNorm")) {
    return OpKind::norm;
  }
  if (contains(name, "gelu") || contains(name, "Gelu") || contains(name, "silu") || contains(name, "Silu") || contains(name, "Swiglu") ||
      contains(name, "tanh") || contains(name, "Tanh")) {
    return OpKind::activation;
  }
  // ...and <...FusedCrossEntropy>.
  if (contains(name, "nll_loss") || contains(name, "NllLoss") || contains(name, "cross_entropy") ||
      contains(name, "CrossEntropy")) {
    return OpKind::loss;
  }
  if (contains(name, "embedding") || contains(name, "Embedding") || contains(name, "index_select") ||
      contains(name, "IndexSelect")) {
    return OpKind::embedding;
  }
  return OpKind::elementwise;
}

StepProfiler::StepProfiler() {
  if (running.exchange(true)) throw std::logic_error("train.profile: a step profiler is already running in this process");
  for (auto& total : totals_ns) total = 0;
  // A profiler that ended while an operator was open (an exception mid-step) left its frames.
  frames.clear();
  at::RecordFunctionCallback callback(onStart, onEnd);
  callback.scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION});
  handle_ = at::addGlobalCallback(callback);
}

StepProfiler::~StepProfiler() {
  at::removeCallback(handle_);
  running = false;
}

bool StepProfiler::active() { return running.load(std::memory_order_relaxed); }

std::array<double, kOpKindCount> StepProfiler::take() {
  std::array<double, kOpKindCount> seconds{};
  for (int k = 0; k < kOpKindCount; ++k) seconds[k] = double(totals_ns[k].exchange(0)) * 1e-9;
  return seconds;
}

ProfileScope::ProfileScope(OpKind kind) {
  if (!StepProfiler::active()) return;
  open(kind, true);
  open_ = true;
}

ProfileScope::~ProfileScope() {
  if (open_) close();
}

}  // namespace behemoth
