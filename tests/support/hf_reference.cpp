#include "tests/support/hf_reference.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "backend/hf/hf_checkpoint.h"
#include "backend/hf/hf_import.h"
#include "backend/model/hf_config.h"
#include "backend/model/language_model.h"
#include "tests/support/command.h"

namespace behemoth {

namespace {

const std::string kScript = "/tests/backend/reference/hf_reference.py";

bool runScript(const std::string& arguments, const std::string& log) {
  const std::string command = "/usr/bin/python3 " + sourceDir() + kScript + " " + arguments + " > " + log + " 2>&1";
  if (std::system(command.c_str()) == 0) return true;
  ADD_FAILURE() << "hf_reference.py " << arguments << " failed: " << readFile(log);
  return false;
}

}  // namespace

std::string hfReferenceDir(const std::string& name) {
  static const TempDir dir;
  static const std::string out = [] {
    const std::string target = dir.file("hf");
    runScript(target, dir.file("log"));
    return target;
  }();
  return out + "/" + name;
}

void writeReferenceLogits(const std::string& dir) { runScript("--logits " + dir, dir + ".log"); }

nlohmann::json readJsonFile(const std::string& file) {
  std::ifstream in(file);
  return nlohmann::json::parse(in);
}

double logitsError(const ModelConfig& config, const std::vector<std::pair<std::string, at::Tensor>>& parameters,
                   const std::string& logits_file) {
  const auto model = buildModel(config, /*seed=*/1);
  at::NoGradGuard no_grad;
  const auto built = model->named_parameters();
  EXPECT_EQ(built.size(), parameters.size());
  for (const auto& [name, value] : parameters) built[name].copy_(value);
  const nlohmann::json reference = readJsonFile(logits_file);
  std::vector<std::int64_t> tokens;
  for (const auto& row : reference.at("tokens")) {
    for (const auto& id : row) tokens.push_back(id.get<std::int64_t>());
  }
  const auto rows = static_cast<std::int64_t>(reference.at("tokens").size());
  const at::Tensor input = at::tensor(tokens, at::kLong).view({rows, -1});
  model->eval();
  const at::Tensor logits = model->forward(input).to(at::kDouble);
  const std::vector<double> flat = reference.at("logits").get<std::vector<double>>();
  const at::Tensor expected = at::tensor(flat, at::kDouble).view(logits.sizes());
  const double error = (logits - expected).norm().item<double>() / expected.norm().item<double>();
  std::cout << logits_file << ": logits relative error " << error << "\n";
  return error;
}

std::vector<std::pair<std::string, at::Tensor>> importedParameters(const std::string& dir) {
  const ModelConfig config = modelConfigFromHfFile(dir + "/config.json");
  const auto model = buildModel(config, /*seed=*/1);
  std::vector<std::pair<std::string, at::Tensor>> parameters;
  for (const auto& item : model->named_parameters()) parameters.emplace_back(item.key(), item.value().detach().clone());
  importHfWeightsIntoParameters(HfCheckpoint::open(dir, config), parameters);
  return parameters;
}

}  // namespace behemoth
