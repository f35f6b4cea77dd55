// `behemoth trace OUT_DIR [--steps N] [--width W]`: the measured pipeline timeline a run with
// train.trace wrote (docs/pipeline.md, "Measured timeline").
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <stdexcept>

#include "backend/cli/commands.h"
#include "backend/cli/trace_text.h"
#include "backend/pipeline/step_trace.h"

namespace behemoth {
namespace {

struct TraceOptions {
  std::string out_dir;
  int steps = 0;  // 0: every step
  int width = 80;
};

}  // namespace

void addTraceCommand(CLI::App& app, std::function<int()>& action) {
  auto options = std::make_shared<TraceOptions>();
  CLI::App* command = app.add_subcommand("trace", "Measured pipeline timeline of a run (train.trace): bubbles per stage");
  command->add_option("out_dir", options->out_dir, "The run's out_dir (its trace/ folder is read)")->required();
  command->add_option("--steps", options->steps, "Show the last N steps (default: every step)")->check(CLI::NonNegativeNumber);
  command->add_option("--width", options->width, "Characters of the text timeline")->check(CLI::Range(10, 1000));
  command->callback([&action, options] {
    action = [options] {
      std::cout << formatTraceReport(readStepTraces(options->out_dir), options->steps, options->width);
      return 0;
    };
  });
}

}  // namespace behemoth
