// The independent Hugging Face reference, tests/backend/reference/hf_reference.py (Debian's
// PyTorch, its own safetensors reader and writer, its own forward written from GPT2LMHeadModel
// and LlamaForCausalLM; no engine code): its small random model directories, written once per
// test program, and the comparison of the engine's logits with the script's.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "backend/model/model_config.h"

namespace behemoth {

// "gpt2", "gpt2-prefixed" or "llama" (see the script's docstring).
std::string hfReferenceDir(const std::string& name);

// Runs the script's forward on a directory the engine exported: writes DIR/reference-logits.json.
// Fails the current test when the script fails (its reader checks the files' structure).
void writeReferenceLogits(const std::string& dir);

nlohmann::json readJsonFile(const std::string& file);

// ||engine - reference|| / ||reference|| of the logits of the model `config` builds holding
// `parameters` (full, by name), on the tokens of `logits_file` (the script's logits.json form).
double logitsError(const ModelConfig& config, const std::vector<std::pair<std::string, at::Tensor>>& parameters,
                   const std::string& logits_file);

// The model's parameters loaded from a Hugging Face directory (its config.json and weights).
std::vector<std::pair<std::string, at::Tensor>> importedParameters(const std::string& dir);

}  // namespace behemoth
