#include "parallel/zero3/operator_observer.h"

#include <ATen/record_function.h>

#include <atomic>
#include <stdexcept>

namespace behemoth {
namespace {

// RecordFunction takes plain function pointers: they reach the live observer's callback here.
std::atomic<OperatorObserver::Callback*> active{nullptr};

void notify(const at::RecordFunction& operation, bool starting) {
  if (OperatorObserver::Callback* callback = active.load(std::memory_order_acquire)) {
    (*callback)(operation.name(), starting);
  }
}

std::unique_ptr<at::ObserverContext> onStart(const at::RecordFunction& operation) {
  notify(operation, true);
  return nullptr;
}

void onEnd(const at::RecordFunction& operation, at::ObserverContext* /*context*/) { notify(operation, false); }

}  // namespace

struct OperatorObserver::Registration {
  Callback callback;
  at::CallbackHandle handle = 0;
};

OperatorObserver::OperatorObserver(Callback callback) : registration_(std::make_unique<Registration>()) {
  registration_->callback = std::move(callback);
  Callback* expected = nullptr;
  if (!active.compare_exchange_strong(expected, &registration_->callback)) {
    throw std::logic_error("OperatorObserver: another observer is already installed");
  }
  // Operators only (not user scopes or backward nodes, whose inner operators are seen anyway).
  registration_->handle =
      at::addGlobalCallback(at::RecordFunctionCallback(&onStart, &onEnd).scopes({at::RecordScope::FUNCTION}));
}

OperatorObserver::~OperatorObserver() {
  at::removeCallback(registration_->handle);
  active.store(nullptr, std::memory_order_release);
}

}  // namespace behemoth
