// Runs a function at the start and end of every ATen operator while an observer is alive, through
// LibTorch's RecordFunction callbacks. ZeRO-3 uses it to see memory at every operator, not only at
// stage boundaries: the non-model memory its auto placement traces in the first step (a block's
// attention scores live and die inside the block), and the device budget checked all run.
//
// One observer at a time (a second is a logic error). The function receives the operator's name
// and whether the operator is starting (true) or ending; it must not throw: it runs inside the
// operator's bookkeeping.
#pragma once

#include <functional>
#include <memory>

namespace behemoth {

class OperatorObserver {
 public:
  using Callback = std::function<void(const char* operator_name, bool starting)>;
  explicit OperatorObserver(Callback callback);
  ~OperatorObserver();
  OperatorObserver(const OperatorObserver&) = delete;
  OperatorObserver& operator=(const OperatorObserver&) = delete;

 private:
  struct Registration;
  std::unique_ptr<Registration> registration_;
};

}  // namespace behemoth
