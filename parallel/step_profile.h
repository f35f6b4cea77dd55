// Where a training step's time goes, by kind of work (train.profile, `behemoth profile`): every
// top-level operator LibTorch runs (forward ops and autograd's backward nodes, seen through its
// RecordFunction callbacks) is timed and classified by name, and the engine marks the work a name
// cannot tell (attention, the optimizer, communication) with a ProfileScope. Time is exclusive:
// a collective waited on inside a backward node counts as communication, not as the node's kind.
#pragma once

#include <array>
#include <map>
#include <string>
#include <string_view>

namespace behemoth {

enum class OpKind { matmul, attention, norm, activation, loss, embedding, elementwise, optimizer, communication, kind_count };
constexpr int kOpKindCount = static_cast<int>(OpKind::kind_count);
const char* opKindName(OpKind kind);  // "matmul", "attention", ...

// The kind of a LibTorch operator or autograd node by its name ("aten::addmm" -> matmul,
// "BmmBackward0" -> attention: only attention multiplies batched matrices; "SoftmaxBackward0" ->
// attention; "NativeLayerNormBackward0" -> norm; anything unknown -> elementwise).
OpKind classifyOperator(std::string_view name);

// Times operators while it lives (one at a time per process). take() returns the seconds of each
// kind since the last take(), over every thread that ran operators.
class StepProfiler {
 public:
  StepProfiler();
  ~StepProfiler();
  StepProfiler(const StepProfiler&) = delete;
  StepProfiler& operator=(const StepProfiler&) = delete;

  std::array<double, kOpKindCount> take();
  // Whether a profiler is running (scopes cost nothing otherwise).
  static bool active();

 private:
  unsigned long long handle_ = 0;
};

// Marks the work of its lifetime as `kind` (operators inside it included). Nothing when no
// profiler is active.
class ProfileScope {
 public:
  explicit ProfileScope(OpKind kind);
  ~ProfileScope();
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

 private:
  bool open_ = false;
};

}  // namespace behemoth
