#include "backend/hf/hf_export.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/checkpoint/checksum.h"
#include "backend/checkpoint/mapped_file.h"
#include "backend/checkpoint/safetensors.h"
#include "backend/checkpoint/slice_copy.h"
#include "backend/hf/float_elements.h"
#include "backend/hf/hf_checkpoint.h"
#include "backend/hf/hf_names.h"
#include "backend/hf/hf_writer.h"
#include "backend/model/hf_config.h"
#include "backend/project/saved_model.h"

namespace behemoth {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

[[noreturn]] void refuse(const std::string& where, const std::string& problem) {
  throw std::invalid_argument("export: " + where + ": " + problem);
}

// One tensor of the export: where its values are in the checkpoint and how Hugging Face stores it.
struct ExportedTensor {
  std::string hf_name;
  const IndexedTensor* source = nullptr;
  bool transposed = false;  // GPT-2's Conv1D weights are stored [in, out]
  std::vector<std::int64_t> hf_shape;
  std::int64_t numel = 0;
};

std::vector<ExportedTensor> planTensors(const CheckpointIndex& index, const ModelConfig& config, const fs::path& step_dir) {
  std::vector<ExportedTensor> tensors;
  for (const ExpectedTensor& expected : expectedParameters(config)) {
    // The fp32 master when the run kept one apart from its (bf16/fp16) working copy.
    const IndexedTensor* source = index.find("master/" + expected.name);
    if (!source) source = index.find("model/" + expected.name);
    if (!source) refuse((step_dir / "index.json").string(), "holds no tensor model/" + expected.name);
    if (source->shape != expected.shape) {
      refuse((step_dir / "index.json").string(), source->name + " does not have the shape the run's sizes give");
    }
    const HfTensorName hf = hfTensorNameOf(config.arch, expected.name);
    ExportedTensor tensor;
    // GPT2LMHeadModel's own names: the body under "transformer.", the untied head beside it.
    tensor.hf_name = config.arch == Arch::gpt && hf.name != "lm_head.weight" ? "transformer." + hf.name : hf.name;
    tensor.source = source;
    tensor.transposed = hf.transposed;
    tensor.hf_shape = expected.shape;
    if (hf.transposed) std::swap(tensor.hf_shape[0], tensor.hf_shape[1]);
    tensor.numel = 1;
    for (const std::int64_t size : expected.shape) tensor.numel *= size;
    tensors.push_back(std::move(tensor));
  }
  return tensors;
}

// The rank files of a checkpoint, mapped once and read through their headers.
class CheckpointFiles {
 public:
  explicit CheckpointFiles(fs::path step_dir) : dir_(std::move(step_dir)) {}

  // The bytes of one stored piece, checked against the checksum index.json records.
  const std::byte* piece(const StoredPiece& piece, std::int64_t expected_bytes) {
    Open& file = open(piece.file);
    const SafetensorsEntry* entry = file.header.find(piece.key);
    if (!entry) refuse((dir_ / piece.file).string(), "has no tensor " + piece.key + " (index.json says it does)");
    if (entry->end - entry->begin != expected_bytes) {
      refuse((dir_ / piece.file).string(), "tensor " + piece.key + " is not the size index.json records");
    }
    const std::byte* data = file.mapping->data() + file.header.dataOffset() + entry->begin;
    if (checksumOf(data, static_cast<std::size_t>(expected_bytes)) != piece.checksum) {
      refuse((dir_ / piece.file).string(), "tensor " + piece.key + " does not match its checksum (the file is damaged)");
    }
    return data;
  }

  // The piece has been copied: its pages leave this process's memory.
  void release(const StoredPiece& piece, const std::byte* data, std::int64_t bytes) {
    open(piece.file).mapping->release(data, static_cast<std::size_t>(bytes));
  }

 private:
  struct Open {
    std::unique_ptr<MappedFile> mapping;
    SafetensorsHeader header;
  };
  Open& open(const std::string& name) {
    auto found = files_.find(name);
    if (found != files_.end()) return found->second;
    Open file;
    try {
      file.header = SafetensorsHeader::read(dir_ / name);
    } catch (const std::invalid_argument& error) {
      refuse((dir_ / name).string(), error.what());
    }
    file.mapping = std::make_unique<MappedFile>(dir_ / name, "export");
    return files_.emplace(name, std::move(file)).first->second;
  }

  fs::path dir_;
  std::map<std::string, Open> files_;
};

// Assembles one tensor from its pieces and writes it in Hugging Face's layout and `dtype`.
void writeTensor(const ExportedTensor& tensor, CheckpointFiles& files, const std::string& dtype, SequentialFileWriter& out) {
  const IndexedTensor& source = *tensor.source;
  const int source_bytes = safetensorsElementBytes(source.dtype);
  std::vector<std::byte> whole(static_cast<std::size_t>(tensor.numel * source_bytes));
  TensorSlice all;
  all.begin.assign(source.shape.size(), 0);
  all.size = source.shape;
  all.numel = tensor.numel;
  std::int64_t covered = 0;
  for (const StoredPiece& piece : source.pieces) {
    const std::byte* data = files.piece(piece, piece.slice.numel * source_bytes);
    covered += copyOverlap(piece.slice, data, all, whole.data(), source_bytes);
    files.release(piece, data, piece.slice.numel * source_bytes);
  }
  if (covered != tensor.numel) {
    refuse(source.name, "its pieces hold " + std::to_string(covered) + " of its " + std::to_string(tensor.numel) + " elements");
  }
  const int out_bytes = safetensorsElementBytes(dtype);
  const FloatDtype from_dtype = floatDtypeOf(source.dtype);
  const FloatDtype to_dtype = floatDtypeOf(dtype);
  const std::int64_t columns = tensor.hf_shape.size() == 2 ? tensor.hf_shape[1] : tensor.numel;
  const std::int64_t rows = tensor.numel / columns;
  std::vector<std::byte> row(static_cast<std::size_t>(columns * out_bytes));
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < columns; ++c) {
      // Element (r, c) of the stored [in, out] tensor is element (c, r) of the engine's [out, in].
      const std::int64_t from = tensor.transposed ? c * rows + r : r * columns + c;
      storeFloatElement(loadFloatElement(whole.data(), from, from_dtype), to_dtype, row.data() + c * out_bytes);
    }
    out.write(row.data(), row.size());
  }
}

std::string torchDtypeName(const std::string& dtype) {
  if (dtype == "F32") return "float32";
  return dtype == "BF16" ? "bfloat16" : "float16";
}

}  // namespace

HfExportSummary exportHfModel(const fs::path& step_dir, const fs::path& out_dir, const HfExportOptions& options) {
  const std::string& dtype = options.dtype;
  if (dtype != "F32" && dtype != "BF16" && dtype != "F16") refuse(dtype, "not a weight dtype (expected F32, BF16 or F16)");
  const CheckpointIndex index = readCheckpointIndex(step_dir);
  const TrainingState state = readTrainingState(step_dir);
  const ModelConfig config = [&] {
    try {
      return modelConfigOfSavedProject(json::parse(state.project_json));
    } catch (const std::exception& error) {
      refuse((step_dir / "state.json").string(), std::string("its project's model cannot be read: ") + error.what());
    }
  }();

  const std::vector<ExportedTensor> tensors = planTensors(index, config, step_dir);
  auto files = std::make_shared<CheckpointFiles>(step_dir);
  HfDirectoryContents contents;
  HfExportSummary summary;
  for (const ExportedTensor& tensor : tensors) {
    summary.largest_tensor_bytes =
        std::max(summary.largest_tensor_bytes, tensor.numel * safetensorsElementBytes(tensor.source->dtype));
    contents.tensors.push_back({tensor.hf_name, dtype, tensor.hf_shape,
                                [&tensor, files, &dtype](SequentialFileWriter& out) { writeTensor(tensor, *files, dtype, out); }});
  }
  contents.config = hfJsonFromModelConfig(config, torchDtypeName(dtype));
  contents.generation_config = {{"_from_model_config", true}};
  if (options.bos_token_id) contents.config["bos_token_id"] = contents.generation_config["bos_token_id"] = *options.bos_token_id;
  if (options.eos_token_id) contents.config["eos_token_id"] = contents.generation_config["eos_token_id"] = *options.eos_token_id;
  contents.copied_files = options.tokenizer_files;
  HfWriteSummary written;
  try {
    written = writeHfDirectory(out_dir, contents, options.max_shard_bytes, options.replace);
  } catch (const std::invalid_argument& error) {
    const std::string text = error.what();
    throw std::invalid_argument(text.rfind("export: ", 0) == 0 ? text : "export: " + text);
  }
  summary.weight_files = written.weight_files;
  summary.weight_bytes = written.weight_bytes;
  summary.tensors = written.tensors;
  return summary;
}

std::int64_t parseByteSize(const std::string& text) {
  std::size_t digits = 0;
  while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) ++digits;
  std::string unit = text.substr(digits);
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::toupper(c); });
  static const std::map<std::string, double> units = {{"", 1.0},          {"B", 1.0},           {"KB", 1e3},
                                                      {"MB", 1e6},        {"GB", 1e9},          {"TB", 1e12},
                                                      {"KIB", 1024.0},    {"MIB", 1048576.0},   {"GIB", 1073741824.0}};
  const auto found = units.find(unit);
  double number = 0;
  try {
    number = digits ? std::stod(text.substr(0, digits)) : -1;
  } catch (const std::exception&) {
    number = -1;
  }
  if (found == units.end() || !(number > 0) || number * found->second > 9e18) {
    throw std::invalid_argument("'" + text + "' is not a size (examples: 5GB, 500MB, 2GiB)");
  }
  return static_cast<std::int64_t>(number * found->second);
}

}  // namespace behemoth
