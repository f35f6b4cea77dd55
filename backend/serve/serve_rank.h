// One rank of `behemoth serve`, start to finish. Tensor-parallel rank 0 listens for HTTP, runs the
// scheduler and, each step, broadcasts the step to the other ranks; every rank runs it on its
// shard of the model and its heads of the KV cache. With one rank nothing is broadcast.
#pragma once

#include <functional>
#include <string>

#include "backend/project/project.h"
#include "backend/serve/scheduler.h"
#include "backend/serve/serve_weights.h"

namespace behemoth {

struct WorldInfo;

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8000;  // 0: a free one
  // Rank 0, once it answers: "serving NAME on http://HOST:PORT (tp N, KV blocks B)".
  std::function<void(const std::string&)> on_ready;
};

// The scheduler's limits from the project (serve.*, model.seq_len, the tokenizer's EOS).
SchedulerLimits schedulerLimitsOf(const Project& project);

// Serves until SIGINT/SIGTERM reaches rank 0 (installStopRequestHandlers). `project` is validated
// for info.world_size tensor-parallel ranks. Errors propagate as exceptions.
void serveRank(const Project& project, const WeightsSource& source, const WorldInfo& info, const ServeOptions& options);

}  // namespace behemoth
