// Import of a Hugging Face config.json into a ModelConfig.
//
// Supported model_type values: "gpt2" (GPT-2 style) and "llama" / "mistral" (LLaMA style; Mistral's
// sliding window is not modelled, so contexts up to sliding_window compute the same thing).
// Errors are std::invalid_argument whose message starts with "hf config.<field>:".
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>

#include "backend/model/model_config.h"

namespace behemoth {

ModelConfig modelConfigFromHfJson(const nlohmann::json& hf);
// The config.json Hugging Face loads the model with (GPT2LMHeadModel or LlamaForCausalLM), the
// inverse of modelConfigFromHfJson: reading it back gives `config`. `torch_dtype` is the stored
// weights' ("float32", "bfloat16", "float16").
nlohmann::json hfJsonFromModelConfig(const ModelConfig& config, const std::string& torch_dtype);
// Reads and parses the file; errors name the path.
ModelConfig modelConfigFromHfFile(const std::string& path);

}  // namespace behemoth
