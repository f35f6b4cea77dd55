// What an export takes from the run besides its weights: the tokenizer the run trained with
// (data.tokenizer in the checkpoint's saved project) gives the files copied beside the model and
// the BOS/EOS ids of config.json and generation_config.json.
#pragma once

#include <filesystem>

#include "backend/hf/hf_export.h"

namespace behemoth {

// Options with the tokenizer's files and special ids filled in (none for the byte tokenizer).
// Throws std::invalid_argument naming the tokenizer path when it cannot be opened any more.
HfExportOptions hfExportInputsOf(const std::filesystem::path& step_dir);

}  // namespace behemoth
