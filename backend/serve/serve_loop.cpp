#include "backend/serve/serve_loop.h"

#include <ATen/ATen.h>

#include "backend/serve/scheduler.h"
#include "backend/serve/serve_model.h"
#include "parallel/group.h"

namespace behemoth {

namespace {

// The step's length first, so peers can make room for it.
void broadcastStep(const StepBatch& batch, Group& tp) {
  const std::vector<std::int64_t> words = encodeStepBatch(batch);
  at::Tensor length = at::tensor({static_cast<std::int64_t>(words.size())}, at::kLong);
  tp.broadcast(length, 0);
  at::Tensor body = at::tensor(words, at::kLong);
  tp.broadcast(body, 0);
}

StepBatch receiveStep(Group& tp) {
  at::Tensor length = at::zeros({1}, at::kLong);
  tp.broadcast(length, 0);
  at::Tensor body = at::zeros({length.item<std::int64_t>()}, at::kLong);
  tp.broadcast(body, 0);
  const std::int64_t* words = body.data_ptr<std::int64_t>();
  return decodeStepBatch(std::vector<std::int64_t>(words, words + body.numel()));
}

}  // namespace

void leadSteps(Scheduler& scheduler, ServeModel& model, Group* tp, const std::function<bool()>& keep_going,
               std::chrono::milliseconds idle) {
  while (keep_going()) {
    const StepBatch batch = scheduler.next(idle);
    if (tp && tp->size() > 1) broadcastStep(batch, *tp);
    if (batch.empty()) continue;
    const at::Tensor logits = model.step(batch);
    scheduler.complete(logits.data_ptr<float>(), logits.size(1));
  }
}

void releaseFollowers(Group& tp) {
  if (tp.size() < 2) return;
  StepBatch last;
  last.shutdown = true;
  broadcastStep(last, tp);
}

void followSteps(ServeModel& model, Group& tp) {
  for (;;) {
    const StepBatch batch = receiveStep(tp);
    if (batch.shutdown) return;
    if (!batch.empty()) model.step(batch);
  }
}

}  // namespace behemoth
