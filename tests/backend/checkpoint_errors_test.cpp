// A damaged or foreign checkpoint is refused with one line naming the file or the tensor, and the
// run it was meant to continue writes nothing: a corrupted byte, a truncated file, a missing rank
// file, another model, another precision, and an out_dir with no checkpoint for `latest`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/checkpoint/rank_shard.h"
#include "backend/checkpoint/safetensors.h"
#include "backend/train/trainer.h"
#include "parallel/world.h"
#include "tests/support/checkpoint_fixture.h"
#include "tests/support/command.h"
#include "tests/support/multiprocess.h"
#include "tests/support/parity.h"

namespace behemoth {
namespace {

namespace fs = std::filesystem;

// A 2-rank ZeRO-2 run that saves at step 2 into `out_dir`; returns the step directory.
fs::path savedCheckpoint(const std::string& out_dir) {
  Project project = tinyProject(Arch::gpt);
  project.plan.zero = 2;
  project.train.steps = 2;
  project.train.out_dir = out_dir;
  TrainerOptions options;
  options.write_checkpoints = true;
  trainOnRanks(project, 2, options);
  return checkpointsDir(out_dir) / stepDirName(2);
}

// What the first rank that failed said when resuming `project` from `step_dir` on `nproc` ranks.
std::string resumeError(Project project, int nproc, const fs::path& step_dir, const std::string& out_dir) {
  project.plan.dp = -1;
  validateForWorld(project, nproc);
  project.train.out_dir = out_dir;
  const RankRun run = runOnRanks(nproc, [&](const WorldInfo& info) {
    ProcessWorld world(info, project.plan);
    TrainerOptions options;
    options.resume_from = step_dir;
    options.write_checkpoints = true;
    Trainer trainer(project, world, options);
    trainer.run(nullptr);
  });
  for (const auto& outcome : run) {
    if (!outcome.ok) return outcome.message;
  }
  return "";
}

Project resumingProject() {
  Project project = tinyProject(Arch::gpt);
  project.plan.zero = 2;
  project.train.steps = 4;
  return project;
}

TEST(CheckpointErrors, ACorruptedByteNamesTheFileAndTensor) {
  const TempDir dir;
  const fs::path step_dir = savedCheckpoint(dir.file("run"));
  const fs::path file = step_dir / rankFileName(1);
  const SafetensorsHeader header = SafetensorsHeader::read(file);
  flipByte(file, header.dataOffset() + (header.fileBytes() - header.dataOffset()) / 2);
  const std::string error = resumeError(resumingProject(), 2, step_dir, dir.file("resumed"));
  EXPECT_NE(error.find(file.string()), std::string::npos) << error;
  EXPECT_NE(error.find("fails its checksum"), std::string::npos) << error;
  EXPECT_NE(error.find("tensor "), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(dir.file("resumed") + "/checkpoints")) << "a refused resume wrote a checkpoint";
}

TEST(CheckpointErrors, ACorruptedHeaderNamesTheFile) {
  const TempDir dir;
  const fs::path step_dir = savedCheckpoint(dir.file("run"));
  const fs::path file = step_dir / rankFileName(0);
  flipByte(file, 9);  // inside the JSON header
  const std::string error = resumeError(resumingProject(), 2, step_dir, dir.file("resumed"));
  EXPECT_NE(error.find(file.string()), std::string::npos) << error;
}

TEST(CheckpointErrors, ATruncatedFileIsRefusedBeforeLaunchAndByTheRanks) {
  const TempDir dir;
  const fs::path step_dir = savedCheckpoint(dir.file("run"));
  const fs::path file = step_dir / rankFileName(1);
  fs::resize_file(file, fs::file_size(file) - 100);
  try {
    resolveCheckpoint(dir.file("run"), "latest");
    ADD_FAILURE() << "resolveCheckpoint accepted a truncated file";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find(file.string() + ": "), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("truncated"), std::string::npos) << error.what();
  }
  const std::string error = resumeError(resumingProject(), 2, step_dir, dir.file("resumed"));
  EXPECT_NE(error.find(file.string()), std::string::npos) << error;
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;
}

TEST(CheckpointErrors, AMissingRankFileIsNamed) {
  const TempDir dir;
  const fs::path step_dir = savedCheckpoint(dir.file("run"));
  const fs::path file = step_dir / rankFileName(1);
  fs::remove(file);
  try {
    resolveCheckpoint(dir.file("run"), step_dir.string());
    ADD_FAILURE() << "resolveCheckpoint accepted a checkpoint without rank 1's file";
  } catch (const std::invalid_argument& error) {
    EXPECT_EQ(std::string(error.what()), file.string() + ": missing (rank 1's file)");
  }
  // Loading at one rank needs every file too.
  const std::string error = resumeError(resumingProject(), 1, step_dir, dir.file("resumed"));
  EXPECT_NE(error.find(file.string()), std::string::npos) << error;
}

TEST(CheckpointErrors, AnotherModelNamesTheFirstTensorThatDiffers) {
  const TempDir dir;
  const fs::path step_dir = savedCheckpoint(dir.file("run"));
  Project wider = resumingProject();
  wider.model.d_model = 64;
  std::string error = resumeError(wider, 2, step_dir, dir.file("a"));
  // Tensors are compared in name order: the first that differs is named.
  EXPECT_NE(error.find("another model: tensor model/blocks.0.attn.proj.bias is [32] in the checkpoint, [64] in this project"),
            std::string::npos)
      << error;
  Project deeper = resumingProject();
  deeper.model.n_layer = 3;
  error = resumeError(deeper, 2, step_dir, dir.file("b"));
  EXPECT_NE(error.find("another model: the checkpoint has no tensor model/blocks.2."), std::string::npos) << error;
  Project llama = resumingProject();
  llama.model.arch = Arch::llama;
  error = resumeError(llama, 1, step_dir, dir.file("c"));
  EXPECT_NE(error.find("another model"), std::string::npos) << error;
}

TEST(CheckpointErrors, AnotherPrecisionIsRefusedNamingTheField) {
  const TempDir dir;
  const fs::path step_dir = savedCheckpoint(dir.file("run"));
  Project bf16 = resumingProject();
  bf16.precision = Precision::bf16;
  const std::string error = resumeError(bf16, 2, step_dir, dir.file("resumed"));
  EXPECT_EQ(error.rfind("precision: ", 0), 0u) << error;
  EXPECT_NE(error.find("trained in fp32"), std::string::npos) << error;
}

TEST(CheckpointErrors, LatestWithoutCheckpointsNamesTheOutDir) {
  const TempDir dir;
  try {
    resolveCheckpoint(dir.file("nothing"), "latest");
    ADD_FAILURE() << "resolved a checkpoint in an empty out_dir";
  } catch (const std::invalid_argument& error) {
    EXPECT_EQ(std::string(error.what()),
              "--resume latest: " + dir.file("nothing") + " holds no checkpoint yet (train.out_dir; none was saved)");
  }
  try {
    resolveCheckpoint(dir.path(), dir.file("no-such-dir"));
    ADD_FAILURE() << "resolved a path that does not exist";
  } catch (const std::invalid_argument& error) {
    EXPECT_EQ(std::string(error.what()), "--resume " + dir.file("no-such-dir") + ": no such checkpoint directory");
  }
}

TEST(CheckpointErrors, ResumePastTheRunsLengthIsRefused) {
  const TempDir dir;
  const fs::path step_dir = savedCheckpoint(dir.file("run"));
  Project shorter = resumingProject();
  shorter.train.steps = 1;
  const std::string error = resumeError(shorter, 2, step_dir, dir.file("resumed"));
  EXPECT_EQ(error.rfind("train.steps: 1 is fewer than the 2 steps", 0), 0u) << error;
}

}  // namespace
}  // namespace behemoth
