// `behemoth checkpoint list|show|verify PATH`: what a run saved (docs/checkpoints.md, "Tools").
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/cli/checkpoint_text.h"
#include "backend/cli/commands.h"

namespace behemoth {

namespace {

struct CheckpointOptions {
  std::string path;
  bool json = false;
};

}  // namespace

void addCheckpointCommand(CLI::App& app, std::function<int()>& action) {
  auto options = std::make_shared<CheckpointOptions>();
  CLI::App* checkpoint = app.add_subcommand("checkpoint", "List, inspect and verify saved checkpoints");
  checkpoint->require_subcommand(1);

  CLI::App* list = checkpoint->add_subcommand("list", "The checkpoints of a run, oldest first, the latest marked");
  list->add_option("path", options->path, "The run's out_dir or its checkpoints directory")->required();
  list->add_flag("--json", options->json, "Print JSON");
  CLI::App* show = checkpoint->add_subcommand("show", "A checkpoint's training state, files and tensors");
  show->add_option("path", options->path, "A step directory (or an out_dir: its latest checkpoint)")->required();
  show->add_flag("--json", options->json, "Print JSON");
  CLI::App* verify = checkpoint->add_subcommand("verify", "Read every byte and check sizes, checksums and coverage");
  verify->add_option("path", options->path, "A step directory (or an out_dir: its latest checkpoint)")->required();

  checkpoint->callback([&action, options, list, show, verify] {
    action = [=] {
      if (list->parsed()) {
        std::error_code error;
        if (!std::filesystem::is_directory(options->path, error)) {
          throw std::invalid_argument(options->path + ": no such directory");
        }
        const std::vector<CheckpointInfo> checkpoints = listCheckpoints(options->path);
        std::cout << (options->json ? checkpointListJson(options->path, checkpoints).dump(2) + "\n"
                                    : formatCheckpointList(options->path, checkpoints));
        return 0;
      }
      const std::filesystem::path dir = checkpointStepDir(options->path);
      if (show->parsed()) {
        const CheckpointIndex index = readCheckpointIndex(dir);
        const TrainingState state = readTrainingState(dir);
        std::cout << (options->json ? checkpointDetailsJson(dir, index, state).dump(2) + "\n"
                                    : formatCheckpointDetails(dir, index, state));
        return 0;
      }
      (void)verify;
      const VerifyReport report = verifyCheckpoint(dir);
      std::cout << formatVerifyReport(dir, report);
      return report.ok() ? 0 : 1;
    };
  });
}

}  // namespace behemoth
