#include "backend/hf/vocabulary_growth.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>

#include "backend/checkpoint/mapped_file.h"
#include "backend/checkpoint/safetensors.h"
#include "backend/hf/float_elements.h"
#include "backend/hf/hf_checkpoint.h"
#include "backend/hf/hf_names.h"
#include "backend/model/hf_config.h"

namespace behemoth {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string storedElement(double value, FloatDtype dtype) {
  std::string bytes(static_cast<std::size_t>(elementBytes(dtype)), '\0');
  storeFloatElement(static_cast<float>(value), dtype, reinterpret_cast<std::byte*>(bytes.data()));
  return bytes;
}

// One mean row, as stored bytes: each column's mean over the tensor's rows, summed in double.
std::string meanRow(const std::byte* data, FloatDtype dtype, std::int64_t rows, std::int64_t columns) {
  std::vector<double> sums(static_cast<std::size_t>(columns), 0.0);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < columns; ++c) sums[c] += loadFloatElement(data, r * columns + c, dtype);
  }
  std::string row;
  for (const double sum : sums) row += storedElement(sum / static_cast<double>(rows), dtype);
  return row;
}

json readJson(const fs::path& file) {
  std::ifstream in(file);
  try {
    return json::parse(in);
  } catch (const json::parse_error& error) {
    throw std::invalid_argument(file.string() + ": not valid JSON: " + error.what());
  }
}

}  // namespace

VocabularyGrowth growHfVocabulary(const fs::path& source_dir, const fs::path& out_dir, std::int64_t first_new_row,
                                  std::int64_t new_vocab_size,
                                  const std::vector<std::pair<std::string, std::string>>& extra, bool replace) {
  const fs::path config_file = source_dir / "config.json";
  if (!fs::is_regular_file(config_file)) throw std::invalid_argument(source_dir.string() + ": no config.json");
  const ModelConfig config = modelConfigFromHfFile(config_file.string());
  if (new_vocab_size < config.vocab_size) {
    throw std::invalid_argument("vocabulary: " + std::to_string(new_vocab_size) + " is smaller than the model's " +
                                std::to_string(config.vocab_size));
  }
  if (first_new_row < 1 || first_new_row > std::min<std::int64_t>(config.vocab_size, new_vocab_size)) {
    throw std::invalid_argument("vocabulary: the tokenizer's " + std::to_string(first_new_row) +
                                " tokens do not fit the model's vocabulary of " + std::to_string(config.vocab_size));
  }
  if (new_vocab_size > kMaxVocabulary) throw std::invalid_argument("vocabulary: " + std::to_string(new_vocab_size) + " is too large");
  const HfCheckpoint checkpoint = HfCheckpoint::open(source_dir, config);

  VocabularyGrowth growth;
  growth.old_vocab_size = config.vocab_size;
  growth.new_vocab_size = new_vocab_size;
  std::set<std::string> grown = {"tok_emb.weight"};
  if (!config.tie_embeddings) grown.insert("lm_head.weight");

  auto mapped = std::make_shared<std::map<fs::path, std::unique_ptr<MappedFile>>>();
  const auto dataOf = [mapped](const HfCheckpoint::Tensor& tensor) {
    auto& file = (*mapped)[tensor.file];
    if (!file) file = std::make_unique<MappedFile>(tensor.file, "vocabulary");
    return file->data() + tensor.data_offset + tensor.entry.begin;
  };
  HfDirectoryContents contents;
  for (const ExpectedTensor& expected : expectedParameters(config)) {
    const HfCheckpoint::Tensor& tensor = checkpoint.tensorOf(expected.name);
    HfTensorToWrite out{tensor.entry.key, tensor.entry.dtype, tensor.entry.shape, {}};
    if (grown.count(expected.name)) {
      out.shape[0] = new_vocab_size;
      growth.grown_tensors.push_back(tensor.entry.key);
      out.write = [&tensor, dataOf, first_new_row, new_vocab_size](SequentialFileWriter& writer) {
        const std::byte* data = dataOf(tensor);
        const std::int64_t columns = tensor.entry.shape[1];
        const std::int64_t row_bytes = columns * safetensorsElementBytes(tensor.entry.dtype);
        writer.write(data, static_cast<std::size_t>(first_new_row * row_bytes));
        const std::string mean = meanRow(data, floatDtypeOf(tensor.entry.dtype), first_new_row, columns);
        for (std::int64_t r = first_new_row; r < new_vocab_size; ++r) writer.write(mean.data(), mean.size());
      };
    } else {
      out.write = [&tensor, dataOf](SequentialFileWriter& writer) {
        writer.write(dataOf(tensor), static_cast<std::size_t>(tensor.entry.end - tensor.entry.begin));
      };
    }
    contents.tensors.push_back(std::move(out));
  }
  contents.config = readJson(config_file);
  contents.config["vocab_size"] = new_vocab_size;
  const fs::path generation = source_dir / "generation_config.json";
  contents.generation_config = fs::is_regular_file(generation) ? readJson(generation) : json{{"_from_model_config", true}};
  std::set<std::string> replaced;
  for (const auto& [name, text] : extra) replaced.insert(name);
  for (const auto& entry : fs::directory_iterator(source_dir)) {
    const std::string name = entry.path().filename().string();
    const bool model_file = name == "config.json" || name == "generation_config.json" ||
                            entry.path().extension() == ".safetensors" || name == "model.safetensors.index.json";
    if (entry.is_regular_file() && !model_file && !replaced.count(name)) contents.copied_files.push_back(entry.path());
  }
  contents.written_files = extra;
  // The largest shard the source had, so the grown model is sharded alike.
  std::int64_t largest_file = 0;
  for (const fs::path& file : checkpoint.files()) largest_file = std::max<std::int64_t>(largest_file, fs::file_size(file));
  const std::int64_t max_shard = checkpoint.files().size() > 1 ? largest_file : std::int64_t{5'000'000'000};
  writeHfDirectory(out_dir, contents, max_shard, replace);
  return growth;
}

}  // namespace behemoth
