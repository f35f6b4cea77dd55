#include "backend/hf/hf_export_inputs.h"

#include <nlohmann/json.hpp>

#include "backend/checkpoint/checkpoint_catalog.h"

namespace behemoth {

HfExportOptions hfExportInputsOf(const std::filesystem::path& step_dir) {
  HfExportOptions options;
  const nlohmann::json project = nlohmann::json::parse(readTrainingState(step_dir).project_json);
  const auto data = project.find("data");
  if (data == project.end() || !data->contains("tokenizer")) return options;  // runs before data.tokenizer: bytes
  const std::string spec = data->at("tokenizer").get<std::string>();
  if (spec == "byte") return options;
  return options;
}

}  // namespace behemoth
