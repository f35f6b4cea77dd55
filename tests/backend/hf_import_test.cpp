// Importing Hugging Face weights (model.hf_pretrained), checked independently: the script
// tests/backend/reference/hf_reference.py (Debian's PyTorch, its own safetensors writer, its own
// forward written from GPT2LMHeadModel and LlamaForCausalLM) writes small random GPT-2 and LLaMA
// (grouped-query) directories and their float64 logits; the engine loads them and gives the same
// logits. Training from them at tp 2 and under ZeRO-3 follows one process. A directory that does
// not hold what config.json describes is refused naming the file and tensor.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "backend/hf/hf_checkpoint.h"
#include "backend/hf/hf_import.h"
#include "backend/model/hf_config.h"
#include "backend/model/language_model.h"
#include "backend/project/project.h"
#include "tests/support/command.h"
#include "tests/support/hf_reference.h"
#include "tests/support/parity.h"

namespace behemoth {
namespace {

namespace fs = std::filesystem;

std::string modelDir(const std::string& name) { return hfReferenceDir(name); }

nlohmann::json readJson(const std::string& file) { return readJsonFile(file); }

// ||engine - reference|| / ||reference|| of the logits, the engine's model loaded from `dir`.
double logitsError(const std::string& dir) {
  return logitsError(modelConfigFromHfFile(dir + "/config.json"), importedParameters(dir), dir + "/logits.json");
}

TEST(HfImport, Gpt2LogitsEqualTheIndependentForward) {
  EXPECT_LE(logitsError(modelDir("gpt2")), 1e-5);
}

TEST(HfImport, Gpt2WithTheTransformerPrefixStoredInBf16) {
  EXPECT_LE(logitsError(modelDir("gpt2-prefixed")), 1e-5);
}

TEST(HfImport, ShardedLlamaWithGroupedQueryAttention) {
  EXPECT_LE(logitsError(modelDir("llama")), 1e-5);
}

// The import must change what the model starts from: a run from the weights and a run from the
// seed's initialisation part at the first loss already.
Project pretrainedProject(const std::string& dir) {
  Project project = tinyProject(Arch::gpt);
  project.model = modelConfigFromHfFile(dir + "/config.json");
  project.model_hf_pretrained = dir;
  return project;
}

TEST(HfImport, TrainingFromTheWeightsFollowsOneProcessAtTp2AndUnderZero3) {
  for (const char* name : {"gpt2", "llama"}) {
    SCOPED_TRACE(name);
    const Project project = pretrainedProject(modelDir(name));
    const ParityRun single = trainOnRanks(project, 1);
    ASSERT_EQ(single.losses.size(), 4u);
    Project seeded = project;
    seeded.model_hf_pretrained.reset();
    const ParityRun from_seed = trainOnRanks(seeded, 1);
    ASSERT_FALSE(from_seed.losses.empty());
    EXPECT_GT(std::abs(single.losses[0] - from_seed.losses[0]), 1e-3) << "the weights were not loaded";

    Project tp = project;
    tp.plan.tp = 2;
    expectSameTraining(single, trainOnRanks(tp, 2), 1e-5);
    Project zero3 = project;
    zero3.plan.zero = 3;
    zero3.plan.chunk_mb = 0.02;
    zero3.plan.offload_optim_fraction = 0.5;
    expectSameTraining(single, trainOnRanks(zero3, 2), 1e-5);
  }
}

// A copy of a reference directory to break.
std::string copyOf(const std::string& name, const TempDir& dir) {
  static int copies = 0;
  const std::string target = dir.file(name + "-" + std::to_string(++copies));
  fs::copy(modelDir(name), target, fs::copy_options::recursive);
  return target;
}

std::string parseError(const std::string& dir) {
  const nlohmann::json document = {{"name", "hf"}, {"model", {{"hf_pretrained", dir}}}};
  try {
    projectFromJson(document, "/");
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

TEST(HfImport, BadDirectoriesAreRefusedNamingTheFileAndTensor) {
  const TempDir dir;
  {
    const std::string broken = copyOf("gpt2", dir);
    fs::remove(broken + "/model.safetensors");
    const std::string error = parseError(broken);
    EXPECT_EQ(error.rfind("model.hf_pretrained: " + broken + ": no weights", 0), 0u) << error;
  }
  {
    const std::string broken = copyOf("llama", dir);
    fs::remove(broken + "/model-00002-of-00002.safetensors");
    const std::string error = parseError(broken);
    EXPECT_NE(error.find("model-00002-of-00002.safetensors: missing (the index names it for tensor "), std::string::npos) << error;
  }
  {
    // Sizes that disagree with the weights: the first tensor whose shape differs is named.
    const std::string broken = copyOf("gpt2", dir);
    nlohmann::json config = readJson(broken + "/config.json");
    config["n_positions"] = 32;
    writeFile(broken + "/config.json", config.dump());
    const std::string error = parseError(broken);
    EXPECT_NE(error.find("model.safetensors: tensor wpe.weight has shape [16, 16], but config.json's sizes give [32, 16]"),
              std::string::npos)
        << error;
  }
  {
    // One layer fewer in config.json: the weights of the second block belong to no parameter.
    const std::string broken = copyOf("llama", dir);
    nlohmann::json config = readJson(broken + "/config.json");
    config["num_hidden_layers"] = 1;
    writeFile(broken + "/config.json", config.dump());
    const std::string error = parseError(broken);
    EXPECT_NE(error.find("tensor model.layers.1."), std::string::npos) << error;
    EXPECT_NE(error.find("is not a parameter of the llama model config.json describes"), std::string::npos) << error;
  }
  {
    // Two layers more: the first missing tensor is named.
    const std::string broken = copyOf("gpt2", dir);
    nlohmann::json config = readJson(broken + "/config.json");
    config["n_layer"] = 3;
    writeFile(broken + "/config.json", config.dump());
    const std::string error = parseError(broken);
    EXPECT_NE(error.find("no file holds tensor h.2.ln_1.weight (the model's blocks.2.ln1.weight)"), std::string::npos) << error;
  }
  for (const std::string& error : {parseError(dir.file("nowhere"))}) {
    EXPECT_EQ(error.rfind("model.hf_pretrained: no such directory", 0), 0u) << error;
  }
}

// expectedParameters (what the pre-launch check compares the files with) is what the models build.
TEST(HfImport, ExpectedParametersAreTheBuiltModels) {
  for (const char* name : {"gpt2", "llama"}) {
    const ModelConfig config = modelConfigFromHfFile(modelDir(name) + "/config.json");
    const auto model = buildModel(config, 0);
    const std::vector<ExpectedTensor> expected = expectedParameters(config);
    const auto built = model->named_parameters();
    ASSERT_EQ(expected.size(), built.size()) << name;
    for (std::size_t k = 0; k < expected.size(); ++k) {
      EXPECT_EQ(expected[k].name, built[k].key());
      EXPECT_EQ(expected[k].shape, built[k].value().sizes().vec()) << expected[k].name;
    }
  }
}

}  // namespace
}  // namespace behemoth
