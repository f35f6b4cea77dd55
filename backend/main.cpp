// The `behemoth` command line: run, plan, history, env, checkpoint, trace, tokenizer (and the hidden worker used by `run`).
#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>

#include "backend/cli/commands.h"
#include "backend/cli/error_text.h"

int main(int argc, char** argv) {
  CLI::App app{"Behemoth: train large models on many devices"};
  app.require_subcommand(1);
  std::function<int()> action;
  behemoth::addRunCommand(app, action);
  behemoth::addProfileCommand(app, action);
  behemoth::addWorkerCommand(app, action);
  behemoth::addHistoryCommand(app, action);
  behemoth::addEnvCommand(app, action);
  behemoth::addPlanCommand(app, action);
  behemoth::addCheckpointCommand(app, action);
  behemoth::addTraceCommand(app, action);
  behemoth::addTokenizerCommand(app, action);
  behemoth::addConvertCommand(app, action);
  behemoth::addServeCommand(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and friends exit 0 and print what they print; a mistake is one line and status 1.
    if (error.get_exit_code() == 0) return app.exit(error);
    std::cerr << "behemoth: " << error.what() << " (see behemoth --help)\n";
    return 1;
  }
  try {
    return action();
  } catch (const std::exception& error) {
    std::cerr << "behemoth: " << behemoth::oneLineError(error) << "\n";
    return 1;
  }
}
