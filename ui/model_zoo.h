// The model picker's catalogue: zoo presets sized like well-known models, and the JSON of a
// project's `model` section for a ModelConfig.
#pragma once

#include <QString>

#include <nlohmann/json.hpp>
#include <vector>

#include "backend/model/model_config.h"

namespace behemoth::ui {

struct ModelPreset {
  QString family;       // "GPT-2", "LLaMA", "Tiny"
  QString name;         // "GPT-2 Medium (355M)"
  QString description;  // where the sizes come from
  ModelConfig config;
};

const std::vector<ModelPreset>& modelPresets();

// The `model` section for `config`: sizes only (defaults the engine fills are left out).
nlohmann::json modelJson(const ModelConfig& config);

// The preset whose sizes equal the `model` section, or -1 (a custom model).
int presetIndexOf(const ModelConfig& config);

// "124.4M", "6.74B".
QString humanCount(double count);
// "1.23 GB" / "512 MB" (decimal units, as the engine reports).
QString humanBytes(double bytes);

}  // namespace behemoth::ui
