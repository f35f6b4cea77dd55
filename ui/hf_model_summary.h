// What the model picker shows of a Hugging Face model directory before anything loads: the sizes
// the engine parses from config.json, the parameter count and weight bytes of the tensors it would
// read (from the safetensors headers only), the shards, and the tokenizer files present.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/model/model_config.h"

namespace behemoth::ui {

struct HfModelSummary {
  std::string dir;                // absolute, as model.hf_pretrained will hold it
  std::string model_type;         // config.json's "model_type" ("gpt2", "llama", "mistral")
  std::string architecture;       // config.json's "architectures"[0] ("LlamaForCausalLM"), or empty
  ModelConfig config;             // the sizes, exactly as the engine parses them
  std::int64_t parameters = 0;    // elements of every tensor the engine takes
  std::int64_t weight_bytes = 0;  // their bytes as stored
  std::string dtype;              // "F32", "BF16", "F16" or "mixed"
  int shards = 0;                 // safetensors files
  std::vector<std::string> tokenizer_files;  // present, in the order below; empty: the byte tokenizer
};

// Reads `dir` the way `behemoth run` checks model.hf_pretrained before launch. Throws
// std::invalid_argument with the engine's one line ("model.hf_pretrained: DIR: ...") for a bad one.
HfModelSummary readHfModelSummary(const std::string& dir);

// The tokenizer files of a Hugging Face directory that are present: tokenizer.json, vocab.json +
// merges.txt (only as a pair), tokenizer.model.
std::vector<std::string> hfTokenizerFiles(const std::string& dir);

// Whether this engine's project schema has a data.tokenizer key (the engine is asked, so the
// picker's offer appears in the build where the key exists and nowhere else).
bool engineHasDataTokenizer();

}  // namespace behemoth::ui
