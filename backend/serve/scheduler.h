// Continuous batching over the paged KV cache. Requests wait in a bounded queue; between steps the
// oldest ones join the running batch when a batch slot and their blocks are free, and finished or
// abandoned ones leave it and return their blocks. Every step decodes one token of each running
// sequence and spends at most `prefill_chunk` tokens on prompts, so a long prompt arriving never
// stalls the sequences already generating, and its first token comes after a bounded number of
// steps. Torch-free: the step loop (serve_loop.h) runs the model on what next() returns.
//
// Past model.seq_len a sequence either ends (finish reason "length") or, with serve.kv_window,
// keeps its first sink_tokens and its last kv_window tokens, at positions 0.. again, and goes on
// (StreamingLLM's attention sinks; the kept tokens are computed again at their new positions).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backend/serve/generation_request.h"
#include "backend/serve/kv_block_pool.h"
#include "backend/serve/step_batch.h"

namespace behemoth {

class ServeMetrics;

struct SchedulerLimits {
  int max_batch = 16;
  int max_queue = 64;
  int max_tokens = 1024;
  int block_tokens = 16;
  int kv_blocks = 64;
  int prefill_chunk = 256;
  std::int64_t seq_len = 64;  // positions the model has: a sequence's cache never holds more
  int kv_window = 0;          // 0: no attention sinks
  int sink_tokens = 4;
  std::optional<TokenId> eos;  // ends a sequence (not shown) when generated
};

class Scheduler {
 public:
  // `metrics` may be null; it must outlive this.
  Scheduler(SchedulerLimits limits, ServeMetrics* metrics);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Why a request can never run (empty prompt, prompt plus max_tokens past what the cache can
  // hold, max_tokens out of range), as a one-line message; nothing when it can. Any thread.
  std::optional<std::string> refusal(const GenerationRequest& request) const;
  // Queues a request that refusal() accepted, unless the queue is full or the server is stopping
  // (after cancelAll()). Any thread.
  enum class Submission { queued, queue_full, closed };
  Submission submit(GenerationRequest request);

  // The serving thread: waits up to `idle` for work, then admits waiting requests, retires finished
  // ones and returns the next step (empty when nothing runs).
  StepBatch next(std::chrono::milliseconds idle);
  // The serving thread: `logits` holds one row of `vocab` floats per sequence of the last step that
  // wanted logits, in order. Samples, hands the tokens out and ends what is finished.
  void complete(const float* logits, std::int64_t vocab);
  // Ends every request and takes no more (the server stops): each listener's onFinish(cancelled).
  void cancelAll();

  struct Load {
    int running = 0;
    int waiting = 0;
    int blocks_in_use = 0;
    int blocks_total = 0;
  };
  Load load() const;
  const SchedulerLimits& limits() const { return limits_; }

 private:
  struct Sequence;
  using Clock = std::chrono::steady_clock;

  int blocksFor(const GenerationRequest& request) const;
  void admit();                                          // under mutex_
  void finish(Sequence& sequence, FinishReason reason);  // releases its blocks
  void retireFinished();
  void accept(Sequence& sequence, TokenId token);
  void publishLoad();  // under mutex_: the metrics' batch, queue and block gauges

  SchedulerLimits limits_;
  ServeMetrics* metrics_;
  mutable std::mutex mutex_;
  std::condition_variable work_;
  std::deque<std::unique_ptr<Sequence>> waiting_;  // guarded by mutex_
  bool closed_ = false;                            // guarded by mutex_
  KvBlockPool pool_;                               // guarded by mutex_
  std::vector<std::unique_ptr<Sequence>> running_; // guarded by mutex_ (changed by the serving thread only)
  std::vector<Sequence*> in_step_;                 // the last step's sequences wanting logits
  std::vector<std::pair<Sequence*, std::int64_t>> step_tokens_;  // the last step's sequences and token counts
};

}  // namespace behemoth
