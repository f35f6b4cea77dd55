// `behemoth convert CHECKPOINT --to-hf DIR`: a checkpoint of any layout as a Hugging Face model
// directory (docs/hf-interop.md, "Export").
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <memory>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/cli/checkpoint_text.h"
#include "backend/cli/commands.h"
#include "backend/hf/hf_export.h"
#include "backend/hf/hf_export_inputs.h"

namespace behemoth {

namespace {

struct ConvertOptions {
  std::string checkpoint;
  std::string to_hf;
  std::string dtype = "fp32";
  std::string max_shard_size = "5GB";
  bool force = false;
};

std::string safetensorsDtypeOf(const std::string& name) {
  if (name == "fp32" || name == "float32") return "F32";
  if (name == "bf16" || name == "bfloat16") return "BF16";
  if (name == "fp16" || name == "float16") return "F16";
  throw std::invalid_argument("--dtype: '" + name + "' is not one of fp32, bf16, fp16");
}

}  // namespace

void addConvertCommand(CLI::App& app, std::function<int()>& action) {
  auto options = std::make_shared<ConvertOptions>();
  CLI::App* command = app.add_subcommand("convert", "Write a checkpoint as a Hugging Face model directory");
  command->add_option("checkpoint", options->checkpoint, "A step directory (or an out_dir: its latest checkpoint)")->required();
  command->add_option("--to-hf", options->to_hf, "The Hugging Face directory to write")->required();
  command->add_option("--dtype", options->dtype, "Weights as fp32 (default), bf16 or fp16");
  command->add_option("--max-shard-size", options->max_shard_size, "Split the weights into shards of at most this (default 5GB)");
  command->add_flag("--force", options->force, "Replace DIR if it exists and is not empty");
  command->callback([&action, options] {
    action = [options] {
      const std::filesystem::path dir = checkpointStepDir(options->checkpoint);
      HfExportOptions export_options = hfExportInputsOf(dir);
      export_options.dtype = safetensorsDtypeOf(options->dtype);
      try {
        export_options.max_shard_bytes = parseByteSize(options->max_shard_size);
      } catch (const std::invalid_argument& error) {
        throw std::invalid_argument(std::string("--max-shard-size: ") + error.what());
      }
      export_options.replace = options->force;
      const HfExportSummary summary = exportHfModel(dir, options->to_hf, export_options);
      std::printf("exported %s to %s: %d tensors, %.1f MB in %zu file%s (largest tensor buffer %.1f MB)\n",
                  dir.filename().c_str(), options->to_hf.c_str(), summary.tensors, summary.weight_bytes / 1e6,
                  summary.weight_files.size(), summary.weight_files.size() == 1 ? "" : "s",
                  summary.largest_tensor_bytes / 1e6);
      return 0;
    };
  });
}

}  // namespace behemoth
