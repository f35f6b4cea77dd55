#include "backend/hf/hf_checkpoint.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <stdexcept>

#include "backend/hf/hf_names.h"

namespace behemoth {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

[[noreturn]] void refuse(const fs::path& where, const std::string& problem) {
  throw std::invalid_argument("model.hf_pretrained: " + where.string() + ": " + problem);
}

std::string shapeText(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t d = 0; d < shape.size(); ++d) text += (d ? ", " : "") + std::to_string(shape[d]);
  return text + "]";
}

// The shard files and, for each file, the tensors the index says it holds (empty: a single file).
std::map<fs::path, std::set<std::string>> weightFiles(const fs::path& dir) {
  const fs::path single = dir / "model.safetensors";
  const fs::path index = dir / "model.safetensors.index.json";
  std::map<fs::path, std::set<std::string>> files;
  if (fs::is_regular_file(index)) {
    std::ifstream in(index);
    json parsed;
    try {
      parsed = json::parse(in);
    } catch (const json::parse_error& error) {
      refuse(index, std::string("not valid JSON: ") + error.what());
    }
    const auto map = parsed.find("weight_map");
    if (!parsed.is_object() || map == parsed.end() || !map->is_object() || map->empty()) {
      refuse(index, "has no \"weight_map\" of tensor names to shard files");
    }
    for (const auto& [tensor, file] : map->items()) {
      if (!file.is_string()) refuse(index, "weight_map." + tensor + " is not a file name");
      const fs::path shard = dir / file.get<std::string>();
      if (!fs::is_regular_file(shard)) refuse(shard, "missing (the index names it for tensor " + tensor + ")");
      files[shard].insert(tensor);
    }
    return files;
  }
  if (fs::is_regular_file(single)) {
    files[single];
    return files;
  }
  if (fs::exists(dir / "pytorch_model.bin")) {
    refuse(dir, "holds pytorch_model.bin (a pickle, which the engine never runs); convert it to safetensors");
  }
  refuse(dir, "no weights: neither model.safetensors nor model.safetensors.index.json");
}

}  // namespace

std::vector<ExpectedTensor> expectedParameters(const ModelConfig& c) {
  const std::int64_t d = c.d_model;
  const std::int64_t ff = c.ffnHidden();
  std::vector<ExpectedTensor> out;
  out.push_back({"tok_emb.weight", {c.vocab_size, d}});
  if (c.arch == Arch::gpt) {
    out.push_back({"pos_emb.weight", {c.seq_len, d}});
    for (int b = 0; b < c.n_layer; ++b) {
      const std::string pre = "blocks." + std::to_string(b) + ".";
      out.push_back({pre + "ln1.weight", {d}});
      out.push_back({pre + "ln1.bias", {d}});
      out.push_back({pre + "attn.qkv.weight", {3 * d, d}});
      out.push_back({pre + "attn.qkv.bias", {3 * d}});
      out.push_back({pre + "attn.proj.weight", {d, d}});
      out.push_back({pre + "attn.proj.bias", {d}});
      out.push_back({pre + "ln2.weight", {d}});
      out.push_back({pre + "ln2.bias", {d}});
      out.push_back({pre + "mlp.fc.weight", {ff, d}});
      out.push_back({pre + "mlp.fc.bias", {ff}});
      out.push_back({pre + "mlp.proj.weight", {d, ff}});
      out.push_back({pre + "mlp.proj.bias", {d}});
    }
    out.push_back({"ln_f.weight", {d}});
    out.push_back({"ln_f.bias", {d}});
  } else {
    const std::int64_t q = std::int64_t{c.n_head} * c.headDim();
    const std::int64_t kv = std::int64_t{c.kvHeads()} * c.headDim();
    for (int b = 0; b < c.n_layer; ++b) {
      const std::string pre = "blocks." + std::to_string(b) + ".";
      out.push_back({pre + "attn_norm.weight", {d}});
      out.push_back({pre + "attn.q.weight", {q, d}});
      out.push_back({pre + "attn.k.weight", {kv, d}});
      out.push_back({pre + "attn.v.weight", {kv, d}});
      out.push_back({pre + "attn.o.weight", {d, q}});
      out.push_back({pre + "mlp_norm.weight", {d}});
      out.push_back({pre + "mlp.gate.weight", {ff, d}});
      out.push_back({pre + "mlp.up.weight", {ff, d}});
      out.push_back({pre + "mlp.down.weight", {d, ff}});
    }
    out.push_back({"norm_f.weight", {d}});
  }
  if (!c.tie_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, d}});
  return out;
}

HfCheckpoint HfCheckpoint::open(const fs::path& dir, const ModelConfig& config) {
  if (!fs::is_directory(dir)) refuse(dir, "not a directory");
  HfCheckpoint checkpoint;
  // Every tensor of every file, by its normalized name.
  std::map<std::string, Tensor> stored;
  for (const auto& [file, indexed] : weightFiles(dir)) {
    checkpoint.files_.push_back(file);
    const SafetensorsHeader header = [&] {
      try {
        return SafetensorsHeader::read(file);
      } catch (const std::invalid_argument& error) {
        throw std::invalid_argument(std::string("model.hf_pretrained: ") + error.what());
      }
    }();
    for (const std::string& name : indexed) {
      if (!header.find(name)) refuse(file, "the index says it holds tensor " + name + ", but it does not");
    }
    for (const SafetensorsEntry& entry : header.entries()) {
      const std::string name = normalizedHfName(config.arch, entry.key);
      if (stored.count(name)) refuse(file, "tensor " + entry.key + " is stored twice");
      stored[name] = Tensor{file, entry, header.dataOffset(), false};
    }
  }
  std::set<std::string> taken;
  for (const ExpectedTensor& expected : expectedParameters(config)) {
    const HfTensorName hf = hfTensorNameOf(config.arch, expected.name);
    const auto found = stored.find(hf.name);
    if (found == stored.end()) refuse(dir, "no file holds tensor " + hf.name + " (the model's " + expected.name + ")");
    Tensor tensor = found->second;
    tensor.transposed = hf.transposed;
    std::vector<std::int64_t> want = expected.shape;
    if (hf.transposed) std::swap(want[0], want[1]);
    if (tensor.entry.shape != want) {
      refuse(tensor.file, "tensor " + tensor.entry.key + " has shape " + shapeText(tensor.entry.shape) + ", but config.json's sizes give " +
                              shapeText(want));
    }
    const std::string& dtype = tensor.entry.dtype;
    if (dtype != "F32" && dtype != "BF16" && dtype != "F16") {
      refuse(tensor.file, "tensor " + tensor.entry.key + " is " + dtype + " (expected F32, BF16 or F16)");
    }
    taken.insert(hf.name);
    checkpoint.tensors_[expected.name] = std::move(tensor);
  }
  for (const auto& [name, tensor] : stored) {
    if (taken.count(name) || isSkippedHfTensor(config.arch, name, config.tie_embeddings)) continue;
    refuse(tensor.file, "tensor " + tensor.entry.key + " is not a parameter of the " + archName(config.arch) +
                            " model config.json describes");
  }
  return checkpoint;
}

const HfCheckpoint::Tensor& HfCheckpoint::tensorOf(const std::string& engine_name) const {
  const auto found = tensors_.find(engine_name);
  if (found == tensors_.end()) throw std::invalid_argument("model.hf_pretrained: no tensor for parameter " + engine_name);
  return found->second;
}

std::int64_t HfCheckpoint::tensorBytes() const {
  std::int64_t bytes = 0;
  for (const auto& [name, tensor] : tensors_) bytes += tensor.entry.end - tensor.entry.begin;
  return bytes;
}

std::string HfCheckpoint::storedDtype() const {
  std::set<std::string> dtypes;
  for (const auto& [name, tensor] : tensors_) dtypes.insert(tensor.entry.dtype);
  return dtypes.size() == 1 ? *dtypes.begin() : "mixed";
}

}  // namespace behemoth
