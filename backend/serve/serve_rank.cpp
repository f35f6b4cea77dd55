#include "backend/serve/serve_rank.h"

#include <ATen/Parallel.h>

#include <thread>

#include "backend/model/language_model.h"
#include "backend/parallelize/parallelize.h"
#include "backend/serve/completion_server.h"
#include "backend/serve/serve_loop.h"
#include "backend/serve/serve_metrics.h"
#include "backend/serve/serve_model.h"
#include "backend/tokenizer/tokenizer.h"
#include "backend/train/stop_request.h"
#include "parallel/world.h"

namespace behemoth {

namespace {

void serveHttp(const Project& project, ServeModel& model, Group* tp, const ServeOptions& options) {
  const std::unique_ptr<const Tokenizer> tokenizer = openTokenizer(project.data.tokenizer);
  ServeMetrics metrics;
  Scheduler scheduler(schedulerLimitsOf(project), &metrics);
  CompletionServer server(scheduler, metrics, *tokenizer, project.name);
  const int port = server.bind(options.host, options.port);
  std::thread http([&server] { server.serve(); });
  // Waiting connections answer first, then the server stops taking new ones.
  const auto stop_http = [&] {
    scheduler.cancelAll();
    server.stop();
    http.join();
  };
  if (options.on_ready) {
    options.on_ready("serving " + project.name + " on http://" + options.host + ":" + std::to_string(port) + " (tp " +
                     std::to_string(tp ? tp->size() : 1) + ", KV blocks " + std::to_string(scheduler.limits().kv_blocks) + ")");
  }
  try {
    leadSteps(scheduler, model, tp, [] { return !stopRequested(); });
  } catch (...) {
    stop_http();
    throw;
  }
  stop_http();
  if (tp) releaseFollowers(*tp);
}

}  // namespace

SchedulerLimits schedulerLimitsOf(const Project& project) {
  const ServeConfig& serve = project.serve;
  SchedulerLimits limits;
  limits.max_batch = serve.max_batch;
  limits.max_queue = serve.max_queue;
  limits.max_tokens = serve.max_tokens;
  limits.block_tokens = serve.block_tokens;
  limits.kv_blocks = serve.poolBlocks(project.model.seq_len);
  limits.prefill_chunk = serve.prefill_chunk;
  limits.seq_len = project.model.seq_len;
  limits.kv_window = serve.kv_window;
  limits.sink_tokens = serve.sink_tokens;
  limits.eos = openTokenizer(project.data.tokenizer)->special().eos;
  return limits;
}

void serveRank(const Project& project, const WeightsSource& source, const WorldInfo& info, const ServeOptions& options) {
  ProcessWorld world(info, project.plan);
  std::shared_ptr<LanguageModel> model = loadServedModel(project.model, source);
  Group* tp = nullptr;
  if (info.world_size > 1) {
    at::set_num_threads(1);  // one math thread per rank, as training ranks do: N ranks share N cores
    parallelize(*model, project.plan, world);
    tp = &world.group(Axis::tp);
  }
  ServeModel serving(model, project.serve.poolBlocks(project.model.seq_len), project.serve.block_tokens);
  if (tp && tp->rank() != 0) return followSteps(serving, *tp);
  serveHttp(project, serving, tp, options);
}

}  // namespace behemoth
