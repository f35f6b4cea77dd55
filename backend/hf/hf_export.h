// Writing a checkpoint as a Hugging Face model directory, the inverse of model.hf_pretrained:
//
//   DIR/config.json                   GPT2LMHeadModel or LlamaForCausalLM, from the run's sizes
//   DIR/generation_config.json        BOS/EOS as the tokenizer says
//   DIR/model.safetensors             the weights under Hugging Face names and layouts, or, above
//   DIR/model-0000K-of-0000N.safetensors + model.safetensors.index.json    max_shard_bytes, shards
//   DIR/<tokenizer files>             copied from the run's tokenizer
//
// The weights come from the checkpoint's files, whatever layout wrote them (tensor-parallel boxes,
// ZeRO flat ranges, pipeline stages): each tensor is assembled from its stored pieces, which are
// memory-mapped, straight into a buffer of that one tensor, so no process ever holds the whole
// model. The fp32 masters are exported when the run kept them apart from its working copy.
// The directory appears complete or not at all: it is written beside DIR and renamed into place.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace behemoth {

struct HfExportOptions {
  std::string dtype = "F32";                          // of the written weights: F32, BF16 or F16
  std::int64_t max_shard_bytes = 5'000'000'000;       // Hugging Face's default shard size
  std::vector<std::filesystem::path> tokenizer_files; // copied beside the weights
  std::optional<std::int64_t> bos_token_id;
  std::optional<std::int64_t> eos_token_id;
  bool replace = false;                               // replace a DIR that exists and is not empty
};

struct HfExportSummary {
  std::vector<std::filesystem::path> weight_files;  // in DIR
  std::int64_t weight_bytes = 0;                     // tensor data written
  int tensors = 0;
  std::int64_t largest_tensor_bytes = 0;             // the one buffer a tensor is assembled in
};

// Throws std::invalid_argument, one line naming the file or tensor: not a checkpoint, a tensor the
// model needs missing from it or not fully covered by its pieces, an unknown dtype, DIR not empty
// (without `replace`).
HfExportSummary exportHfModel(const std::filesystem::path& step_dir, const std::filesystem::path& out_dir,
                              const HfExportOptions& options);

// "5GB", "500MB", "2GiB", "1000" (bytes) -> bytes. Throws std::invalid_argument.
std::int64_t parseByteSize(const std::string& text);

}  // namespace behemoth
