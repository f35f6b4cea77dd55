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
#include "tests/support/parity.h"

namespace behemoth {
namespace {

namespace fs = std::filesystem;

// The script's directories, written once for the whole test program.
const std::string& referenceDirs() {
  static const TempDir dir;
  static const std::string out = [] {
    const std::string target = dir.file("hf");
    const std::string command = "/usr/bin/python3 " + sourceDir() + "/tests/backend/reference/hf_reference.py " + target +
                                " > " + dir.file("log") + " 2>&1";
    if (std::system(command.c_str()) != 0) ADD_FAILURE() << "hf_reference.py failed: " << readFile(dir.file("log"));
    return target;
  }();
  return out;
}

std::string modelDir(const std::string& name) { return referenceDirs() + "/" + name; }

nlohmann::json readJson(const std::string& file) {
  std::ifstream in(file);
  return nlohmann::json::parse(in);
}

// ||engine - reference|| / ||reference|| of the logits, the engine's model loaded from `dir`.
double logitsError(const std::string& dir) {
  const ModelConfig config = modelConfigFromHfFile(dir + "/config.json");
  const auto model = buildModel(config, /*seed=*/1);
  std::vector<std::pair<std::string, at::Tensor>> parameters;
  for (const auto& item : model->named_parameters()) parameters.emplace_back(item.key(), item.value());
  importHfWeightsIntoParameters(HfCheckpoint::open(dir, config), parameters);
  const nlohmann::json reference = readJson(dir + "/logits.json");
  std::vector<std::int64_t> tokens;
  for (const auto& row : reference.at("tokens")) {
    for (const auto& id : row) tokens.push_back(id.get<std::int64_t>());
  }
  const auto rows = static_cast<std::int64_t>(reference.at("tokens").size());
  const at::Tensor input = at::tensor(tokens, at::kLong).view({rows, -1});
  at::NoGradGuard no_grad;
  model->eval();
  const at::Tensor logits = model->forward(input).to(at::kDouble);
  const std::vector<double> flat = reference.at("logits").get<std::vector<double>>();
  const at::Tensor expected = at::tensor(flat, at::kDouble).view(logits.sizes());
  const double error = (logits - expected).norm().item<double>() / expected.norm().item<double>();
  std::cout << dir << ": logits relative error " << error << "\n";
  return error;
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
