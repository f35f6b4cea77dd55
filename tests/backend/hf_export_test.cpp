// Exporting to Hugging Face (train.export_hf, `behemoth convert --to-hf`), checked independently:
// the engine trains from the reference script's random GPT-2 and LLaMA directories, exports, and
// the script (tests/backend/reference/hf_reference.py: its own safetensors reader and forward, no
// engine code) reads the export and computes the logits the engine computes. Import -> train at
// dp 2 x tp 2 -> export -> import at one process gives back the trained weights bit for bit.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/checkpoint/safetensors.h"
#include "backend/hf/hf_export.h"
#include "backend/model/hf_config.h"
#include "tests/support/command.h"
#include "tests/support/hf_reference.h"
#include "tests/support/parity.h"

namespace behemoth {
namespace {

namespace fs = std::filesystem;

// A run from a reference directory that saves its final checkpoint and exports OUT_DIR/hf.
Project exportingProject(const std::string& name, const std::string& out_dir, int steps) {
  Project project = tinyProject(Arch::gpt);
  const std::string dir = hfReferenceDir(name);
  project.model = modelConfigFromHfFile(dir + "/config.json");
  project.model_hf_pretrained = dir;
  project.train.steps = steps;
  project.train.out_dir = out_dir;
  project.train.checkpoint_async = false;
  project.train.export_hf = true;
  return project;
}

ParityRun trainAndExport(const Project& project, int nproc) {
  TrainerOptions options;
  options.write_checkpoints = true;
  return trainOnRanks(project, nproc, options);
}

fs::path finalCheckpoint(const Project& project) {
  return checkpointsDir(project.train.out_dir) / stepDirName(project.train.steps);
}

void expectEqualParameters(const std::vector<std::pair<std::string, at::Tensor>>& expected,
                           const std::vector<std::pair<std::string, at::Tensor>>& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (std::size_t k = 0; k < expected.size(); ++k) {
    EXPECT_EQ(expected[k].first, actual[k].first);
    EXPECT_TRUE(at::equal(expected[k].second, actual[k].second)) << expected[k].first << " differs";
  }
}

void expectSameSizes(const ModelConfig& expected, const ModelConfig& actual) {
  EXPECT_EQ(expected.arch, actual.arch);
  EXPECT_EQ(expected.n_layer, actual.n_layer);
  EXPECT_EQ(expected.n_head, actual.n_head);
  EXPECT_EQ(expected.kvHeads(), actual.kvHeads());
  EXPECT_EQ(expected.d_model, actual.d_model);
  EXPECT_EQ(expected.ffnHidden(), actual.ffnHidden());
  EXPECT_EQ(expected.seq_len, actual.seq_len);
  EXPECT_EQ(expected.vocab_size, actual.vocab_size);
  EXPECT_EQ(expected.norm_eps, actual.norm_eps);
  EXPECT_EQ(expected.rope_theta, actual.rope_theta);
  EXPECT_EQ(expected.tie_embeddings, actual.tie_embeddings);
}

// GPT-2 trained in one process, LLaMA (grouped-query, untied head) at tp 2 and exported in
// shards: the script's forward over the exported files gives the trained model's logits.
TEST(HfExport, TheIndependentForwardOfTheExportGivesTheTrainedModelsLogits) {
  const TempDir dir;
  for (const auto& [name, tp] : {std::pair<std::string, int>{"gpt2", 1}, {"llama", 2}}) {
    SCOPED_TRACE(name);
    Project project = exportingProject(name, dir.file(name), 5);
    project.plan.tp = tp;
    const ParityRun run = trainAndExport(project, tp);
    ASSERT_EQ(run.losses.size(), 5u);
    const std::string exported = project.train.out_dir + "/hf";
    ASSERT_TRUE(fs::is_regular_file(exported + "/model.safetensors")) << "train.export_hf wrote no model";
    expectSameSizes(project.model, modelConfigFromHfFile(exported + "/config.json"));
    EXPECT_TRUE(fs::is_regular_file(exported + "/generation_config.json"));

    // The same checkpoint through the converter, in shards of at most 4 KB, with the index.
    const std::string sharded = dir.file(name + "-sharded");
    HfExportOptions options;
    options.max_shard_bytes = 4096;
    const HfExportSummary summary = exportHfModel(finalCheckpoint(project), sharded, options);
    EXPECT_GT(summary.weight_files.size(), 2u);
    EXPECT_TRUE(fs::is_regular_file(sharded + "/model.safetensors.index.json"));
    for (const std::string& out : {exported, sharded}) {
      writeReferenceLogits(out);
      EXPECT_LE(logitsError(project.model, run.parameters, out + "/reference-logits.json"), 1e-5) << out;
    }
  }
}

TEST(HfExport, ImportTrainAtDp2Tp2ExportImportGivesTheTrainedWeights) {
  const TempDir dir;
  for (const char* name : {"gpt2", "llama"}) {
    SCOPED_TRACE(name);
    Project project = exportingProject(name, dir.file(name), 10);
    project.plan.dp = 2;
    project.plan.tp = 2;
    const ParityRun run = trainAndExport(project, 4);
    ASSERT_EQ(run.losses.size(), 10u);
    expectEqualParameters(run.parameters, importedParameters(project.train.out_dir + "/hf"));
  }
}

// bf16 exports round each fp32 master to nearest even, as PyTorch's .to(torch.bfloat16) does.
TEST(HfExport, Bf16ExportHoldsTheRoundedMasters) {
  const TempDir dir;
  Project project = exportingProject("llama", dir.file("run"), 2);
  project.train.export_hf = false;
  const ParityRun run = trainAndExport(project, 1);
  HfExportOptions options;
  options.dtype = "BF16";
  exportHfModel(finalCheckpoint(project), dir.file("bf16"), options);
  EXPECT_EQ(readJsonFile(dir.file("bf16") + "/config.json").at("torch_dtype"), "bfloat16");
  std::vector<std::pair<std::string, at::Tensor>> rounded;
  for (const auto& [name, value] : run.parameters) rounded.emplace_back(name, value.to(at::kBFloat16).to(at::kFloat));
  expectEqualParameters(rounded, importedParameters(dir.file("bf16")));
}

std::string exportError(const fs::path& step_dir, const std::string& out, const HfExportOptions& options = {}) {
  try {
    exportHfModel(step_dir, out, options);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

TEST(HfExport, BadTargetsAndCheckpointsAreRefusedNamingThem) {
  const TempDir dir;
  Project project = exportingProject("gpt2", dir.file("run"), 1);
  project.train.export_hf = false;
  trainAndExport(project, 1);
  const fs::path step = finalCheckpoint(project);

  // A directory that holds something is not overwritten unless asked, and stays as it was.
  fs::create_directories(dir.file("taken"));
  writeFile(dir.file("taken") + "/notes.txt", "mine");
  EXPECT_NE(exportError(step, dir.file("taken")).find("taken: exists and is not empty"), std::string::npos);
  EXPECT_EQ(readFile(dir.file("taken") + "/notes.txt"), "mine");
  HfExportOptions replace;
  replace.replace = true;
  EXPECT_EQ(exportError(step, dir.file("taken"), replace), "");
  EXPECT_FALSE(fs::exists(dir.file("taken") + "/notes.txt"));
  EXPECT_TRUE(fs::is_regular_file(dir.file("taken") + "/model.safetensors"));

  // A damaged rank file: the piece whose checksum fails is named, and nothing is written.
  const CheckpointIndex index = readCheckpointIndex(step);
  const StoredPiece& piece = index.find("model/tok_emb.weight")->pieces.front();
  const std::string rank_file = (step / piece.file).string();
  const SafetensorsHeader header = SafetensorsHeader::read(rank_file);
  std::string bytes = readFile(rank_file);
  bytes[header.dataOffset() + header.find(piece.key)->begin + 5] ^= 0x5a;
  writeFile(rank_file, bytes);
  const std::string damaged = exportError(step, dir.file("from-damaged"));
  EXPECT_NE(damaged.find("rank-00000.safetensors: tensor "), std::string::npos) << damaged;
  EXPECT_NE(damaged.find("does not match its checksum"), std::string::npos) << damaged;
  EXPECT_FALSE(fs::exists(dir.file("from-damaged")));

  EXPECT_NE(exportError(dir.file("nowhere"), dir.file("out")).find("nowhere"), std::string::npos);
  HfExportOptions wrong_dtype;
  wrong_dtype.dtype = "I64";
  EXPECT_NE(exportError(step, dir.file("out"), wrong_dtype).find("I64: not a weight dtype"), std::string::npos);
}

TEST(HfExport, ShardSizesAreParsedAsHuggingFaceWritesThem) {
  EXPECT_EQ(parseByteSize("5GB"), 5'000'000'000);
  EXPECT_EQ(parseByteSize("500MB"), 500'000'000);
  EXPECT_EQ(parseByteSize("2GiB"), 2LL << 30);
  EXPECT_EQ(parseByteSize("4096"), 4096);
  EXPECT_THROW(parseByteSize("lots"), std::invalid_argument);
  EXPECT_THROW(parseByteSize("0GB"), std::invalid_argument);
}

}  // namespace
}  // namespace behemoth
