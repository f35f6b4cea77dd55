#include "backend/hf/hf_export_inputs.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/tokenizer/tokenizer.h"

namespace behemoth {

HfExportOptions hfExportInputsOf(const std::filesystem::path& step_dir) {
  HfExportOptions options;
  const nlohmann::json project = nlohmann::json::parse(readTrainingState(step_dir).project_json);
  const auto data = project.find("data");
  // Runs saved before data.tokenizer existed trained on bytes, as "byte" does: no files to copy.
  if (data == project.end() || !data->contains("tokenizer")) return options;
  const std::string spec = data->at("tokenizer").get<std::string>();
  const auto tokenizer = [&] {
    try {
      return openTokenizer(spec);
    } catch (const std::invalid_argument& error) {
      throw std::invalid_argument("export: the run's tokenizer is gone or changed (" + std::string(error.what()) + ")");
    }
  }();
  options.tokenizer_files = tokenizer->files();
  const SpecialTokens special = tokenizer->special();
  if (special.bos) options.bos_token_id = *special.bos;
  if (special.eos) options.eos_token_id = *special.eos;
  return options;
}

}  // namespace behemoth
