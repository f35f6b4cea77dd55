#include "backend/cli/serve_input.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <stdexcept>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/cli/checkpoint_text.h"
#include "backend/tokenizer/tokenizer.h"

namespace behemoth {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool isHuggingFaceDir(const fs::path& dir) {
  std::error_code error;
  return fs::is_regular_file(dir / "config.json", error) &&
         (fs::is_regular_file(dir / "model.safetensors", error) || fs::is_regular_file(dir / "model.safetensors.index.json", error));
}

bool hasTokenizerFiles(const fs::path& dir) {
  std::error_code error;
  for (const char* name : {"tokenizer.json", "vocab.json", "tokenizer.model"}) {
    if (fs::is_regular_file(dir / name, error)) return true;
  }
  return false;
}

Project parsedWithOverrides(json document, const std::vector<std::string>& overrides, const std::string& base_dir) {
  for (const std::string& assignment : overrides) applyOverride(document, assignment);
  return projectFromJson(document, base_dir);
}

}  // namespace

ServeInput resolveServeInput(const std::string& input, const std::vector<std::string>& overrides, int ranks) {
  ServeInput resolved;
  std::error_code error;
  const fs::path path(input);
  if (fs::is_regular_file(path, error)) {
    resolved.project = loadProject(input, overrides);
    const Project& project = resolved.project;
    if (project.model_hf_pretrained) {
      resolved.weights = {WeightsSource::Kind::hugging_face, *project.model_hf_pretrained};
    } else if (!listCheckpoints(project.train.out_dir).empty()) {
      resolved.weights = {WeightsSource::Kind::checkpoint, checkpointStepDir(project.train.out_dir)};
    }
  } else if (fs::is_directory(path, error) && isHuggingFaceDir(path)) {
    json document = {{"name", fs::absolute(path).filename().string()}, {"model", {{"hf_pretrained", fs::absolute(path).string()}}}};
    if (hasTokenizerFiles(path)) document["data"] = {{"tokenizer", fs::absolute(path).string()}};
    resolved.project = parsedWithOverrides(document, overrides, ".");
    resolved.weights = {WeightsSource::Kind::hugging_face, fs::absolute(path)};
  } else if (fs::is_directory(path, error)) {
    const fs::path step_dir = checkpointStepDir(input);
    const json saved = json::parse(readTrainingState(step_dir).project_json);
    resolved.project = parsedWithOverrides(saved, overrides, ".");
    resolved.weights = {WeightsSource::Kind::checkpoint, step_dir};
  } else {
    throw std::invalid_argument(input + ": no such project file, checkpoint or Hugging Face directory");
  }
  resolved.weights.seed = resolved.project.train.seed;
  // Serving is tensor parallelism over every rank: nothing else of the training plan applies.
  Project& project = resolved.project;
  project.plan = Plan{};
  project.plan.dp = 1;
  project.plan.tp = ranks;
  project.devices.count = ranks;
  validateForWorld(project, ranks);
  const std::unique_ptr<const Tokenizer> tokenizer = openTokenizer(project.data.tokenizer);
  if (tokenizer->vocabSize() > project.model.vocab_size) {
    throw std::invalid_argument("data.tokenizer: its " + std::to_string(tokenizer->vocabSize()) +
                                " tokens do not fit model.vocab_size = " + std::to_string(project.model.vocab_size));
  }
  return resolved;
}

}  // namespace behemoth
