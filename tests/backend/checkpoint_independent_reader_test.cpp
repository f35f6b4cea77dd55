// The files mean what docs/checkpoints.md says: an independent reader (numpy, written from the doc,
// tests/backend/reference/read_checkpoint.py) reassembles every tensor of a checkpoint saved at
// dp 2 x tp 2 with ZeRO-2 (boxes, qkv blocks, vocabulary padding, flat ranges), finds each covered
// exactly once, and its parameters equal the run's own gathered weights.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "tests/support/command.h"
#include "tests/support/parity.h"

namespace behemoth {
namespace {

std::string runPython(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  std::string output;
  char buffer[4096];
  while (pipe && std::fgets(buffer, sizeof buffer, pipe.get()) != nullptr) output += buffer;
  return output;
}

TEST(CheckpointIndependentReader, ReassemblesWhatTheRunHeld) {
  const TempDir dir;
  Project project = tinyProject(Arch::gpt);
  project.model.vocab_size = 257;
  project.plan.tp = 2;
  project.plan.zero = 2;
  project.plan.bucket_mb = 0.01;
  project.train.steps = 2;
  project.train.out_dir = dir.file("run");
  TrainerOptions options;
  options.write_checkpoints = true;
  const ParityRun run = trainOnRanks(project, 4, options);
  ASSERT_FALSE(run.parameters.empty());

  const std::string step_dir = (checkpointsDir(project.train.out_dir) / stepDirName(2)).string();
  const std::string script = sourceDir() + "/tests/backend/reference/read_checkpoint.py";
  const std::string output = runPython("/usr/bin/python3 " + script + " " + step_dir + " 2>&1");
  const nlohmann::json sums = nlohmann::json::parse(output, nullptr, false);
  ASSERT_FALSE(sums.is_discarded()) << output;
  for (const auto& [name, parameter] : run.parameters) {
    const std::string key = "model/" + name;
    ASSERT_TRUE(sums.contains(key)) << key;
    const at::Tensor flat = parameter.to(at::kDouble).reshape({-1});
    const double sum = flat.sum().item<double>();
    const double weighted = (flat * at::arange(flat.numel(), at::kDouble)).sum().item<double>();
    const double scale = flat.abs().sum().item<double>() + 1e-30;
    EXPECT_NEAR(sums[key][0].get<double>(), sum, 1e-12 * scale) << key;
    EXPECT_NEAR(sums[key][1].get<double>(), weighted, 1e-12 * scale * flat.numel()) << key;
    for (const char* kind : {"exp_avg/", "exp_avg_sq/"}) EXPECT_TRUE(sums.contains(kind + name)) << kind << name;
  }
  EXPECT_EQ(sums.size(), 3 * run.parameters.size()) << "model, exp_avg, exp_avg_sq per parameter (fp32: no masters)";
}

}  // namespace
}  // namespace behemoth
