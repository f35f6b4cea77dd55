// The `behemoth` command line: run, plan, history, env (and the hidden worker used by `run`).
#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>

#include "backend/cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"Behemoth: train large models on many devices"};
  app.require_subcommand(1);
  std::function<int()> action;
  behemoth::addRunCommand(app, action);
  behemoth::addWorkerCommand(app, action);
  behemoth::addHistoryCommand(app, action);
  behemoth::addEnvCommand(app, action);
  behemoth::addPlanCommand(app, action);
  CLI11_PARSE(app, argc, argv);
  try {
    return action();
  } catch (const std::exception& error) {
    std::cerr << "behemoth: " << error.what() << "\n";
    return 1;
  }
}
