#include "backend/serve/scheduler.h"

#include <algorithm>

#include "backend/serve/attention_sinks.h"
#include "backend/serve/serve_metrics.h"

namespace behemoth {

const char* finishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::length: return "length";
    case FinishReason::stop: return "stop";
    case FinishReason::cancelled: return "cancelled";
  }
  return "stop";
}

struct Scheduler::Sequence {
  GenerationRequest request;
  std::vector<std::int64_t> context;  // the cache's tokens in order: computed [0, cached), then pending
  std::int64_t cached = 0;
  std::vector<int> blocks;
  int generated = 0;
  bool done = false;
  Clock::time_point submitted;
  Clock::time_point last_token;
};

namespace {

double secondsBetween(std::chrono::steady_clock::time_point from, std::chrono::steady_clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

int ceilDivide(std::int64_t value, int by) { return static_cast<int>((value + by - 1) / by); }

}  // namespace

Scheduler::Scheduler(SchedulerLimits limits, ServeMetrics* metrics)
    : limits_(limits), metrics_(metrics), pool_(limits.kv_blocks) {}

Scheduler::~Scheduler() = default;

int Scheduler::blocksFor(const GenerationRequest& request) const {
  // With sinks a conversation fills the whole cache before it slides; without, the cache holds the
  // prompt and every generated token but the last.
  const std::int64_t tokens = limits_.kv_window > 0
                                  ? limits_.seq_len
                                  : static_cast<std::int64_t>(request.prompt.size()) + request.max_tokens - 1;
  return ceilDivide(std::max<std::int64_t>(tokens, 1), limits_.block_tokens);
}

std::optional<std::string> Scheduler::refusal(const GenerationRequest& request) const {
  const auto prompt = static_cast<std::int64_t>(request.prompt.size());
  if (prompt == 0) return std::string("prompt: must not be empty");
  if (request.max_tokens < 1 || request.max_tokens > limits_.max_tokens) {
    return "max_tokens: " + std::to_string(request.max_tokens) + " is outside 1..serve.max_tokens = " +
           std::to_string(limits_.max_tokens);
  }
  if (limits_.kv_window > 0 && prompt > limits_.seq_len) {
    return "prompt: its " + std::to_string(prompt) + " tokens exceed model.seq_len = " + std::to_string(limits_.seq_len);
  }
  if (limits_.kv_window == 0 && prompt + request.max_tokens > limits_.seq_len) {
    return "prompt: its " + std::to_string(prompt) + " tokens plus max_tokens " + std::to_string(request.max_tokens) +
           " exceed model.seq_len = " + std::to_string(limits_.seq_len) +
           " (set serve.kv_window to let a conversation go past it)";
  }
  const int blocks = blocksFor(request);
  if (blocks > limits_.kv_blocks) {
    return "prompt: the request needs " + std::to_string(blocks) + " KV-cache blocks and the cache has " +
           std::to_string(limits_.kv_blocks) + " (serve.kv_blocks)";
  }
  return std::nullopt;
}

Scheduler::Submission Scheduler::submit(GenerationRequest request) {
  auto sequence = std::make_unique<Sequence>();
  sequence->context.assign(request.prompt.begin(), request.prompt.end());
  sequence->request = std::move(request);
  sequence->submitted = Clock::now();
  {
    const std::lock_guard lock(mutex_);
    if (closed_) return Submission::closed;
    if (static_cast<int>(waiting_.size()) >= limits_.max_queue) return Submission::queue_full;
    waiting_.push_back(std::move(sequence));
    publishLoad();
  }
  work_.notify_one();
  return Submission::queued;
}

void Scheduler::finish(Sequence& sequence, FinishReason reason) {
  if (sequence.done) return;
  sequence.done = true;
  pool_.release(sequence.blocks);
  sequence.blocks.clear();
  if (metrics_) {
    metrics_->countRequest(reason == FinishReason::cancelled ? "cancelled" : "ok");
    metrics_->observeRequestLatency(secondsBetween(sequence.submitted, Clock::now()));
  }
  sequence.request.listener->onFinish(reason);
}

void Scheduler::admit() {
  while (!waiting_.empty() && static_cast<int>(running_.size()) < limits_.max_batch) {
    Sequence& head = *waiting_.front();
    if (head.request.listener->cancelled()) {
      finish(head, FinishReason::cancelled);
      waiting_.pop_front();
      continue;
    }
    // Oldest first: a large request at the head waits for blocks rather than being overtaken forever.
    std::optional<std::vector<int>> blocks = pool_.allocate(blocksFor(head.request));
    if (!blocks) break;
    head.blocks = std::move(*blocks);
    if (metrics_) metrics_->countPromptTokens(static_cast<std::int64_t>(head.request.prompt.size()));
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
}

void Scheduler::retireFinished() {
  for (auto& sequence : running_) {
    if (!sequence->done && sequence->request.listener->cancelled()) finish(*sequence, FinishReason::cancelled);
  }
  running_.erase(std::remove_if(running_.begin(), running_.end(), [](const auto& sequence) { return sequence->done; }),
                 running_.end());
}

StepBatch Scheduler::next(std::chrono::milliseconds idle) {
  std::unique_lock lock(mutex_);
  work_.wait_for(lock, idle, [this] { return !waiting_.empty() || !running_.empty(); });
  retireFinished();
  admit();
  StepBatch batch;
  in_step_.clear();
  step_tokens_.clear();
  std::int64_t prefill_budget = limits_.prefill_chunk;
  for (const auto& sequence : running_) {
    const std::int64_t pending = static_cast<std::int64_t>(sequence->context.size()) - sequence->cached;
    // A generating sequence's one token always runs; prompts share the step's prefill budget.
    const std::int64_t take = pending == 1 ? 1 : std::min(pending, prefill_budget);
    if (take == 0) continue;
    if (pending > 1) prefill_budget -= take;
    SequenceStep step;
    step.blocks = sequence->blocks;
    step.cached = sequence->cached;
    step.tokens.assign(sequence->context.begin() + sequence->cached, sequence->context.begin() + sequence->cached + take);
    step.wants_logits = take == pending;
    batch.sequences.push_back(std::move(step));
    step_tokens_.emplace_back(sequence.get(), take);
    if (take == pending) in_step_.push_back(sequence.get());
  }
  publishLoad();
  return batch;
}

void Scheduler::accept(Sequence& sequence, TokenId token) {
  TokenListener& listener = *sequence.request.listener;
  if (listener.cancelled()) return finish(sequence, FinishReason::cancelled);
  if (limits_.eos && token == *limits_.eos) return finish(sequence, FinishReason::stop);
  const Clock::time_point now = Clock::now();
  if (metrics_) {
    if (sequence.generated == 0) {
      metrics_->observeTimeToFirstToken(secondsBetween(sequence.submitted, now));
    } else {
      metrics_->observeInterTokenLatency(secondsBetween(sequence.last_token, now));
    }
    metrics_->countGeneratedToken();
  }
  sequence.last_token = now;
  ++sequence.generated;
  if (!listener.onToken(token)) return finish(sequence, FinishReason::stop);
  if (sequence.generated >= sequence.request.max_tokens) return finish(sequence, FinishReason::length);
  sequence.context.push_back(token);
  if (static_cast<std::int64_t>(sequence.context.size()) <= limits_.seq_len) return;
  if (limits_.kv_window == 0) return finish(sequence, FinishReason::length);
  // Attention sinks: keep the first tokens and the recent window, at positions 0.. again.
  sequence.context = keepSinksAndWindow(sequence.context, limits_.sink_tokens, limits_.kv_window);
  sequence.cached = 0;
}

void Scheduler::complete(const float* logits, std::int64_t vocab) {
  const std::lock_guard lock(mutex_);
  for (const auto& [sequence, take] : step_tokens_) sequence->cached += take;
  std::int64_t row = 0;
  for (Sequence* sequence : in_step_) {
    const TokenId token = sampleToken(logits + row * vocab, vocab, sequence->request.sampling,
                                      static_cast<std::uint64_t>(sequence->generated));
    ++row;
    accept(*sequence, token);
  }
  in_step_.clear();
  step_tokens_.clear();
  retireFinished();
  publishLoad();  // a scrape between steps sees the blocks of what just finished returned
}

void Scheduler::cancelAll() {
  const std::lock_guard lock(mutex_);
  closed_ = true;
  for (auto& sequence : running_) finish(*sequence, FinishReason::cancelled);
  running_.clear();
  for (auto& sequence : waiting_) finish(*sequence, FinishReason::cancelled);
  waiting_.clear();
  in_step_.clear();
  step_tokens_.clear();
  publishLoad();
}

void Scheduler::publishLoad() {
  if (metrics_) metrics_->setLoad(static_cast<int>(running_.size()), static_cast<int>(waiting_.size()), pool_.inUse(), pool_.capacity());
}

Scheduler::Load Scheduler::load() const {
  const std::lock_guard lock(mutex_);
  return {static_cast<int>(running_.size()), static_cast<int>(waiting_.size()), pool_.inUse(), pool_.capacity()};
}

}  // namespace behemoth
