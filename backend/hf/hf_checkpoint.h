// A Hugging Face model directory: config.json, and the weights in model.safetensors or in the
// shards model.safetensors.index.json lists ("weight_map": tensor name -> shard file). Opening it
// reads the headers only; which tensors the engine takes, and where each one's bytes are, is
// settled here, before any weight is read. Torch-free (the CLI checks a directory before launch).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "backend/checkpoint/safetensors.h"
#include "backend/model/model_config.h"

namespace behemoth {

// One parameter the engine builds: its name and full (unsharded) shape.
struct ExpectedTensor {
  std::string name;
  std::vector<std::int64_t> shape;
};

// The parameters `config` builds, in the models' order (tests check this against the built model).
std::vector<ExpectedTensor> expectedParameters(const ModelConfig& config);

class HfCheckpoint {
 public:
  struct Tensor {
    std::filesystem::path file;
    SafetensorsEntry entry;       // dtype, shape and byte range inside the data section
    std::int64_t data_offset = 0; // where the file's data section starts
    bool transposed = false;      // stored [in, out] (GPT-2's Conv1D)
  };

  // Opens `dir` for a model of `config` (built from dir/config.json). Throws std::invalid_argument,
  // one line naming the directory, file and tensor, for: no weights file, an unreadable index, a
  // shard the index names that is missing, a tensor the model needs that no file holds, a tensor
  // no parameter takes, a shape that disagrees with the config, a dtype other than F32/BF16/F16.
  static HfCheckpoint open(const std::filesystem::path& dir, const ModelConfig& config);

  const Tensor& tensorOf(const std::string& engine_name) const;  // throws for an unknown name
  const std::vector<std::filesystem::path>& files() const { return files_; }
  std::int64_t tensorBytes() const;  // the weights' bytes, every tensor the engine takes
  std::string storedDtype() const;   // "F32", "BF16", "F16", or "mixed"

 private:
  std::map<std::string, Tensor> tensors_;  // by engine name
  std::vector<std::filesystem::path> files_;
};

}  // namespace behemoth
