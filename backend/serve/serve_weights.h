// Where `behemoth serve` takes its weights from, and the whole model filled with them on one rank
// (before tensor parallelism slices it): a checkpoint of any layout, a Hugging Face directory, or
// the project's seed (a model nobody trained: for trying the server out and for tests).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "backend/model/model_config.h"

namespace behemoth {

class LanguageModel;

struct WeightsSource {
  enum class Kind { seed, checkpoint, hugging_face };
  Kind kind = Kind::seed;
  std::filesystem::path path;  // the checkpoint's step directory, or the Hugging Face directory
  std::uint64_t seed = 0;      // Kind::seed: train.seed
  std::string describe() const;  // "checkpoint runs/x/checkpoints/step-0000100", "seed 0", ...
};

// The whole model of `config`, its weights from `source`. Throws std::invalid_argument naming the
// file or tensor for a checkpoint or directory that does not match the model.
std::shared_ptr<LanguageModel> loadServedModel(const ModelConfig& config, const WeightsSource& source);

}  // namespace behemoth
