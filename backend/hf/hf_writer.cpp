#include "backend/hf/hf_writer.h"

#include <cstdio>
#include <stdexcept>

#include "backend/checkpoint/safetensors.h"

namespace behemoth {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::int64_t bytesOf(const HfTensorToWrite& tensor) {
  std::int64_t numel = 1;
  for (const std::int64_t size : tensor.shape) numel *= size;
  return numel * safetensorsElementBytes(tensor.dtype);
}

// Consecutive tensors grouped into shards of at most max_bytes (a larger tensor gets a shard of
// its own), as Hugging Face's save_pretrained groups them.
std::vector<std::vector<const HfTensorToWrite*>> groupIntoShards(const std::vector<HfTensorToWrite>& tensors,
                                                                  std::int64_t max_bytes) {
  std::vector<std::vector<const HfTensorToWrite*>> shards(1);
  std::int64_t shard_bytes = 0;
  for (const HfTensorToWrite& tensor : tensors) {
    const std::int64_t bytes = bytesOf(tensor);
    if (!shards.back().empty() && shard_bytes + bytes > max_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(&tensor);
    shard_bytes += bytes;
  }
  return shards;
}

std::string shardName(std::size_t k, std::size_t count) {
  if (count == 1) return "model.safetensors";
  char name[64];
  std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", k + 1, count);
  return name;
}

bool holdsSomething(const fs::path& dir) {
  std::error_code error;
  return fs::exists(dir, error) && (!fs::is_directory(dir, error) || !fs::is_empty(dir, error));
}

// `partial` becomes `target`; a target that exists goes aside first and is removed once the new
// directory is in place.
void renameIntoPlace(const fs::path& partial, const fs::path& target) {
  fsyncPath(partial);
  std::error_code error;
  if (fs::exists(target, error)) {
    const fs::path aside = target.parent_path() / ("." + target.filename().string() + ".replaced");
    fs::remove_all(aside);
    fs::rename(target, aside);
    fs::rename(partial, target);
    fs::remove_all(aside);
  } else {
    fs::rename(partial, target);
  }
  fsyncPath(target.parent_path());
}

}  // namespace

HfWriteSummary writeHfDirectory(const fs::path& dir, const HfDirectoryContents& contents, std::int64_t max_shard_bytes,
                                bool replace) {
  if (max_shard_bytes < 1) throw std::invalid_argument("max shard size: must be at least one byte");
  const fs::path target = fs::absolute(dir).lexically_normal();
  if (holdsSomething(target) && (!replace || !fs::is_directory(target))) {
    throw std::invalid_argument(target.string() + ": exists and is not empty (remove it, or replace it: --force)");
  }
  fs::create_directories(target.parent_path());
  const fs::path partial = target.parent_path() / ("." + target.filename().string() + ".partial");
  fs::remove_all(partial);
  fs::create_directories(partial);
  try {
    HfWriteSummary summary;
    const auto shards = groupIntoShards(contents.tensors, max_shard_bytes);
    json weight_map = json::object();
    for (std::size_t k = 0; k < shards.size(); ++k) {
      const std::string name = shardName(k, shards.size());
      std::vector<SafetensorsEntry> entries;
      for (const HfTensorToWrite* tensor : shards[k]) entries.push_back({tensor->name, tensor->dtype, tensor->shape});
      const std::string header = SafetensorsHeader::serialize(entries, {{"format", "pt"}});
      SequentialFileWriter out(partial / name);
      out.write(header.data(), header.size());
      for (const HfTensorToWrite* tensor : shards[k]) {
        tensor->write(out);
        summary.weight_bytes += bytesOf(*tensor);
        weight_map[tensor->name] = name;
        ++summary.tensors;
      }
      out.finish();
      summary.weight_files.push_back(target / name);
    }
    if (shards.size() > 1) {
      const json index = {{"metadata", {{"total_size", summary.weight_bytes}}}, {"weight_map", weight_map}};
      writeFileDurably(partial / "model.safetensors.index.json", index.dump(2) + "\n");
    }
    writeFileDurably(partial / "config.json", contents.config.dump(2) + "\n");
    writeFileDurably(partial / "generation_config.json", contents.generation_config.dump(2) + "\n");
    for (const fs::path& file : contents.copied_files) {
      fs::copy_file(file, partial / file.filename(), fs::copy_options::overwrite_existing);
      fsyncPath(partial / file.filename());
    }
    for (const auto& [name, text] : contents.written_files) writeFileDurably(partial / name, text);
    renameIntoPlace(partial, target);
    return summary;
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(partial, ignored);
    throw;
  }
}

}  // namespace behemoth
