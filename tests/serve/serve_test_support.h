// Helpers of the serving tests: tiny models, a listener that records what it is given, the
// reference generate loop that recomputes the whole sequence every token (no cache), and a driver
// that runs the scheduler over a ServeModel in-process.
#pragma once

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <functional>
#include <stdexcept>
#include <memory>
#include <optional>
#include <vector>

#include "backend/model/language_model.h"
#include "backend/serve/generation_request.h"
#include "backend/serve/sampling.h"
#include "backend/serve/scheduler.h"
#include "backend/serve/serve_loop.h"
#include "backend/serve/serve_model.h"

namespace behemoth::serve_test {

// Init std 0.5 spreads the logits of an untrained model far enough apart that fp32 rounding never
// decides an argmax: greedy tokens are compared exactly.
inline ModelConfig tinyGpt() {
  ModelConfig config;
  config.arch = Arch::gpt;
  config.n_layer = 2;
  config.n_head = 4;
  config.d_model = 32;
  config.seq_len = 48;
  config.vocab_size = 64;
  config.init_std = 0.5;
  return config;
}

inline ModelConfig tinyLlamaGqa() {
  ModelConfig config = tinyGpt();
  config.arch = Arch::llama;
  config.n_kv_head = 2;  // two query heads per kv head
  config.tie_embeddings = false;
  return config;
}

class RecordingListener : public TokenListener {
 public:
  bool onToken(TokenId token) override {
    tokens.push_back(token);
    return true;
  }
  void onFinish(FinishReason reason) override { finish = reason; }
  bool cancelled() const override { return cancel; }

  std::vector<TokenId> tokens;
  std::optional<FinishReason> finish;
  bool cancel = false;
};

inline std::vector<TokenId> promptOf(int length, int salt, std::int64_t vocab) {
  std::vector<TokenId> prompt;
  for (int i = 0; i < length; ++i) prompt.push_back(static_cast<TokenId>((i * 7 + salt * 13 + 3) % vocab));
  return prompt;
}

// The logits after the last token of `context`, computed from scratch.
inline at::Tensor fullForwardLastLogits(LanguageModel& model, const std::vector<std::int64_t>& context) {
  torch::NoGradGuard no_grad;
  const at::Tensor tokens = at::tensor(context, at::TensorOptions().dtype(at::kLong)).unsqueeze(0);
  return model.forward(tokens)[0][-1].contiguous();
}

// The reference: every token from a forward over the whole context. With `window` > 0, the
// attention-sink policy: past seq_len the context becomes its first `sinks` and last `window` tokens.
inline std::vector<TokenId> recomputingGenerate(LanguageModel& model, const std::vector<TokenId>& prompt, int max_tokens,
                                                const SamplingParams& sampling = {0.0}, int window = 0, int sinks = 0) {
  std::vector<std::int64_t> context(prompt.begin(), prompt.end());
  std::vector<TokenId> generated;
  for (int i = 0; i < max_tokens; ++i) {
    const at::Tensor logits = fullForwardLastLogits(model, context);
    const TokenId token = sampleToken(logits.data_ptr<float>(), logits.size(0), sampling, static_cast<std::uint64_t>(i));
    generated.push_back(token);
    context.push_back(token);
    if (window > 0 && static_cast<std::int64_t>(context.size()) > model.config().seq_len) {
      std::vector<std::int64_t> kept(context.begin(), context.begin() + sinks);
      kept.insert(kept.end(), context.end() - window, context.end());
      context = kept;
    }
  }
  return generated;
}

inline SchedulerLimits limitsFor(const ModelConfig& config) {
  SchedulerLimits limits;
  limits.max_batch = 3;
  limits.max_queue = 16;
  limits.block_tokens = 4;
  limits.kv_blocks = 3 * ((config.seq_len + 3) / 4);
  limits.prefill_chunk = 7;  // prompts longer than this prefill over several steps
  limits.seq_len = config.seq_len;
  return limits;
}

struct PlannedRequest {
  int submit_at_step = 0;
  GenerationRequest request;
};

// Submits each request at its step and runs steps until every listener finished. Returns the
// steps run. `tp`: the tensor-parallel group whose peers run followSteps (null: one rank).
inline int runRequests(Scheduler& scheduler, ServeModel& model, std::vector<PlannedRequest> planned, Group* tp = nullptr,
                       const std::function<void(int)>& after_step = {}) {
  int step = 0;
  int last_submission = 0;
  for (const PlannedRequest& p : planned) last_submission = std::max(last_submission, p.submit_at_step);
  const auto all_finished = [&] {
    for (const PlannedRequest& p : planned) {
      if (!static_cast<RecordingListener&>(*p.request.listener).finish) return false;
    }
    return true;
  };
  leadSteps(scheduler, model, tp, [&] {
    for (PlannedRequest& p : planned) {
      if (p.submit_at_step == step && p.request.listener) {
        const auto refused = scheduler.refusal(p.request);
        if (refused) throw std::runtime_error("test request refused: " + *refused);
        if (scheduler.submit(p.request) != Scheduler::Submission::queued) throw std::runtime_error("test request not queued");
      }
    }
    if (after_step) after_step(step);
    ++step;
    return !all_finished() || step <= last_submission;
  }, std::chrono::milliseconds(1));
  return step;
}

}  // namespace behemoth::serve_test
