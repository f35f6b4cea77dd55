// `behemoth convert CHECKPOINT --to-hf DIR` and `train.export_hf` through the executable: a run at
// dp 2 under ZeRO-1 exports OUT_DIR/hf; the converter writes the same weights from the same
// checkpoint (byte for byte), in bf16 and in shards on request, and refuses a taken directory or
// a path that is no checkpoint in one line.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>

#include "tests/cli/cli_test_support.h"
#include "tests/support/command.h"

namespace behemoth {
namespace {
namespace fs = std::filesystem;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(ConvertCommand, ExportsTheCheckpointOfARunAsTheRunsOwnExportDoes) {
  const TempDir dir;
  const std::string out = dir.file("out");
  nlohmann::json project = tinyProjectJson(out, 3);
  project["parallel"]["zero"] = 1;
  project["train"]["export_hf"] = true;
  writeFile(dir.file("p.json"), project.dump());
  const CommandResult run = runBehemoth({"run", dir.file("p.json"), "--nproc", "2", "--no-history"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_TRUE(contains(run.stdout_text + run.stderr_text, "exported the Hugging Face model to " + out + "/hf"))
      << run.stdout_text;
  const std::string model = readFile(out + "/hf/model.safetensors");
  ASSERT_FALSE(model.empty());

  const CommandResult convert = runBehemoth({"convert", out, "--to-hf", dir.file("hf")});
  ASSERT_EQ(convert.exit_code, 0) << convert.stderr_text;
  EXPECT_TRUE(contains(convert.stdout_text, "exported step-0000003 to ")) << convert.stdout_text;
  EXPECT_EQ(readFile(dir.file("hf") + "/model.safetensors"), model);
  const auto config = nlohmann::json::parse(readFile(dir.file("hf") + "/config.json"));
  EXPECT_EQ(config.at("architectures").at(0), "GPT2LMHeadModel");
  EXPECT_EQ(config.at("n_embd"), 32);

  const CommandResult sharded =
      runBehemoth({"convert", out, "--to-hf", dir.file("bf16"), "--dtype", "bf16", "--max-shard-size", "8KB"});
  ASSERT_EQ(sharded.exit_code, 0) << sharded.stderr_text;
  EXPECT_TRUE(fs::is_regular_file(dir.file("bf16") + "/model.safetensors.index.json"));
  int shards = 0;
  for (const auto& entry : fs::directory_iterator(dir.file("bf16"))) shards += contains(entry.path().string(), "-of-");
  EXPECT_GE(shards, 2) << sharded.stdout_text;

  const CommandResult taken = runBehemoth({"convert", out, "--to-hf", dir.file("hf")});
  EXPECT_NE(taken.exit_code, 0);
  EXPECT_TRUE(contains(taken.stderr_text, "hf: exists and is not empty (remove it, or replace it: --force)"))
      << taken.stderr_text;
  EXPECT_EQ(runBehemoth({"convert", out, "--to-hf", dir.file("hf"), "--force"}).exit_code, 0);

  const CommandResult nowhere = runBehemoth({"convert", dir.file("nowhere"), "--to-hf", dir.file("x")});
  EXPECT_NE(nowhere.exit_code, 0);
  EXPECT_TRUE(contains(nowhere.stderr_text, "nowhere")) << nowhere.stderr_text;
  const CommandResult dtype = runBehemoth({"convert", out, "--to-hf", dir.file("y"), "--dtype", "int8"});
  EXPECT_TRUE(contains(dtype.stderr_text, "--dtype: 'int8' is not one of fp32, bf16, fp16")) << dtype.stderr_text;
}

}  // namespace
}  // namespace behemoth
