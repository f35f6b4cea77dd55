// Writing a Hugging Face model directory: config.json, generation_config.json, the weights in
// model.safetensors or in shards with model.safetensors.index.json, and tokenizer files. Each
// tensor writes its own bytes when its turn comes, so a writer holds one tensor at a time. The
// directory appears complete or not at all: it is written as .DIR.partial beside DIR, fsynced
// and renamed into place.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "backend/checkpoint/durable_files.h"

namespace behemoth {

struct HfTensorToWrite {
  std::string name;                 // the Hugging Face name
  std::string dtype;                // safetensors dtype of the written bytes
  std::vector<std::int64_t> shape;
  // Writes exactly numel(shape) elements of `dtype`, in row-major order.
  std::function<void(SequentialFileWriter&)> write;
};

struct HfDirectoryContents {
  nlohmann::json config;             // config.json
  nlohmann::json generation_config;  // generation_config.json
  std::vector<HfTensorToWrite> tensors;
  std::vector<std::filesystem::path> copied_files;  // tokenizer files, copied by name
  std::vector<std::pair<std::string, std::string>> written_files;  // (name, text) written beside
};

struct HfWriteSummary {
  std::vector<std::filesystem::path> weight_files;
  std::int64_t weight_bytes = 0;
  int tensors = 0;
};

// Throws std::invalid_argument "DIR: exists and is not empty ..." unless `replace`.
HfWriteSummary writeHfDirectory(const std::filesystem::path& dir, const HfDirectoryContents& contents,
                                std::int64_t max_shard_bytes, bool replace);

}  // namespace behemoth
