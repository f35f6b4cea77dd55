#include "ui/hf_model_summary.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "backend/hf/hf_checkpoint.h"
#include "backend/project/project.h"

namespace behemoth::ui {
namespace {

namespace fs = std::filesystem;

// "/models/gpt2/" and "models/./gpt2" both become "/…/models/gpt2".
std::string absoluteDir(const std::string& dir) {
  fs::path path = fs::absolute(fs::path(dir)).lexically_normal();
  if (!path.has_filename() && path.has_parent_path() && path != path.root_path()) path = path.parent_path();
  return path.string();
}

// config.json's names for what it describes; the engine has already parsed the file, so a
// field missing here only leaves the text empty.
void readNames(const fs::path& config_file, HfModelSummary& summary) {
  std::ifstream in(config_file);
  const nlohmann::json config = nlohmann::json::parse(in, nullptr, false);
  if (!config.is_object()) return;
  if (const auto type = config.find("model_type"); type != config.end() && type->is_string()) {
    summary.model_type = type->get<std::string>();
  }
  const auto architectures = config.find("architectures");
  if (architectures != config.end() && architectures->is_array() && !architectures->empty() &&
      architectures->front().is_string()) {
    summary.architecture = architectures->front().get<std::string>();
  }
}

}  // namespace

HfModelSummary readHfModelSummary(const std::string& dir) {
  HfModelSummary summary;
  summary.dir = absoluteDir(dir);
  // The engine's own check of the key, on a project that holds nothing else: its one line is the
  // error, and its model is the one a run would build.
  const nlohmann::json probe = {{"name", "hf"}, {"model", {{"hf_pretrained", summary.dir}}}};
  summary.config = projectFromJson(probe).model;
  const HfCheckpoint checkpoint = HfCheckpoint::open(summary.dir, summary.config);
  for (const ExpectedTensor& tensor : expectedParameters(summary.config)) {
    std::int64_t elements = 1;
    for (const std::int64_t extent : tensor.shape) elements *= extent;
    summary.parameters += elements;
  }
  summary.weight_bytes = checkpoint.tensorBytes();
  summary.dtype = checkpoint.storedDtype();
  summary.shards = static_cast<int>(checkpoint.files().size());
  summary.tokenizer_files = hfTokenizerFiles(summary.dir);
  readNames(fs::path(summary.dir) / "config.json", summary);
  return summary;
}

std::vector<std::string> hfTokenizerFiles(const std::string& dir) {
  const fs::path root(dir);
  std::error_code error;
  auto present = [&](const char* name) { return fs::is_regular_file(root / name, error); };
  std::vector<std::string> files;
  if (present("tokenizer.json")) files.emplace_back("tokenizer.json");
  if (present("vocab.json") && present("merges.txt")) {
    files.emplace_back("vocab.json");
    files.emplace_back("merges.txt");
  }
  if (present("tokenizer.model")) files.emplace_back("tokenizer.model");
  return files;
}

bool engineHasDataTokenizer() {
  // "byte" is the value every engine with the key accepts.
  static const bool has_key = [] {
    const nlohmann::json probe = {{"name", "probe"},
                                  {"model", {{"n_layer", 1}, {"n_head", 1}, {"d_model", 8}, {"seq_len", 8}, {"vocab_size", 256}}},
                                  {"data", {{"corpus", "builtin"}, {"tokenizer", "byte"}}}};
    try {
      projectFromJson(probe);
    } catch (const std::invalid_argument& error) {
      return std::string(error.what()).rfind("data.tokenizer: unknown key", 0) != 0;
    }
    return true;
  }();
  return has_key;
}

}  // namespace behemoth::ui
