// `behemoth serve PROJECT|CHECKPOINT|HF_DIR [--nproc N] [--host H] [--port P] [--set key=value]`:
// serves the model over HTTP (docs/serving.md) with tensor parallelism over N local ranks, until
// Ctrl-C. The hidden `serve-worker` is one of those ranks, started by the launcher.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>
#include <memory>

#include "backend/cli/commands.h"
#include "backend/cli/error_text.h"
#include "backend/cli/serve_input.h"
#include "backend/cli/worker_environment.h"
#include "backend/launch/launcher.h"
#include "backend/launch/rank_discovery.h"
#include "backend/launch/self_executable.h"
#include "backend/launch/signal_name.h"
#include "backend/serve/serve_rank.h"
#include "backend/train/stop_request.h"
#include "parallel/world.h"

namespace behemoth {

namespace {

struct ServeCommandOptions {
  std::string input;
  int nproc = 1;
  std::string host = "127.0.0.1";
  int port = 8000;
  std::vector<std::string> overrides;
};

ServeOptions serveOptionsOf(const ServeCommandOptions& options) {
  ServeOptions serve;
  serve.host = options.host;
  serve.port = options.port;
  serve.on_ready = [](const std::string& line) { std::cout << line << std::endl; };
  return serve;
}

void addCommonOptions(CLI::App& command, ServeCommandOptions& options) {
  command.add_option("input", options.input, "A project file, a checkpoint (or out_dir), or a Hugging Face directory")->required();
  command.add_option("--host", options.host, "The address to listen on (default 127.0.0.1: this machine only)");
  command.add_option("--port", options.port, "The port (default 8000; 0 picks a free one)")->check(CLI::Range(0, 65535));
  command.add_option("--set", options.overrides, "Override a project field, e.g. serve.max_batch=32 (repeatable)");
}

int serveHere(const ServeCommandOptions& options) {
  const ServeInput input = resolveServeInput(options.input, options.overrides, 1);
  std::cerr << "behemoth: serving weights from " << input.weights.describe() << "\n";
  installStopRequestHandlers();
  serveRank(input.project, input.weights, WorldInfo{}, serveOptionsOf(options));
  return 0;
}

int launchServers(const ServeCommandOptions& options) {
  // Everything that can be checked is checked before any worker starts.
  const ServeInput input = resolveServeInput(options.input, options.overrides, options.nproc);
  std::cerr << "behemoth: serving weights from " << input.weights.describe() << " over " << options.nproc << " ranks\n";
  WorkerSpec spec;
  spec.executable = selfExecutablePath();
  spec.args = {"serve-worker", options.input, "--host", options.host, "--port", std::to_string(options.port)};
  for (const std::string& assignment : options.overrides) spec.args.insert(spec.args.end(), {"--set", assignment});
  spec.nproc = options.nproc;
  spec.stop_grace = std::chrono::seconds(10);
  const LaunchResult result = launchWorkers(
      spec, [](int, const std::string& line) { std::cout << line << std::endl; },
      [](int rank, const std::string& line) { std::cerr << "[rank " << rank << "] " << line << "\n"; });
  if (result.interrupted_by != 0) {
    std::cerr << "behemoth: server stopped by " << signalName(result.interrupted_by) << "\n";
    return 0;
  }
  if (result.ok) return 0;
  std::cerr << "behemoth: serve failed: " << result.headline << "\n";
  return 1;
}

int serveWorker(const ServeCommandOptions& options) {
  const auto rank = rankFromEnvironment();
  if (!rank) throw std::runtime_error("serve-worker: no rank in the environment (start it with `behemoth serve --nproc N`)");
  const ServeInput input = resolveServeInput(options.input, options.overrides, rank->world_size);
  // Peers wait in a broadcast for rank 0's next step, which comes at least every 200 ms.
  const WorldInfo info = worldInfoFor(*rank, "cpu", collectiveTimeout(std::chrono::seconds(60)));
  installStopRequestHandlers();
  try {
    serveRank(input.project, input.weights, info, serveOptionsOf(options));
  } catch (const std::exception& error) {
    std::cerr << "behemoth: rank " << rank->rank << ": " << oneLineError(error) << std::endl;
    return 1;
  }
  return 0;
}

}  // namespace

void addServeCommand(CLI::App& app, std::function<int()>& action) {
  auto options = std::make_shared<ServeCommandOptions>();
  CLI::App* command = app.add_subcommand("serve", "Serve a model over HTTP (OpenAI-style /v1/completions)");
  addCommonOptions(*command, *options);
  command->add_option("--nproc", options->nproc, "Tensor-parallel ranks on this machine (default 1)")->check(CLI::Range(1, 1024));
  command->callback([&action, options] {
    // A client that leaves mid-answer must not kill the server with SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    action = [options] { return options->nproc == 1 ? serveHere(*options) : launchServers(*options); };
  });

  auto worker_options = std::make_shared<ServeCommandOptions>();
  CLI::App* worker = app.add_subcommand("serve-worker", "");
  worker->group("");
  addCommonOptions(*worker, *worker_options);
  worker->callback([&action, worker_options] {
    std::signal(SIGPIPE, SIG_IGN);
    action = [worker_options] { return serveWorker(*worker_options); };
  });
}

}  // namespace behemoth
