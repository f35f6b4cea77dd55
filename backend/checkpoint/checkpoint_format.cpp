#include "backend/checkpoint/checkpoint_format.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <stdexcept>

namespace behemoth {
namespace {

using nlohmann::json;

[[noreturn]] void malformed(const std::string& where, const std::string& field, const std::string& problem) {
  throw std::invalid_argument(where + ": " + field + " " + problem);
}

const json& member(const json& object, const char* key, const std::string& where, const std::string& path) {
  if (!object.is_object()) malformed(where, path, "is not an object");
  const auto found = object.find(key);
  if (found == object.end()) malformed(where, path + "." + key, "is missing");
  return *found;
}

template <typename T>
T read(const json& object, const char* key, const std::string& where, const std::string& path) {
  const json& value = member(object, key, where, path);
  try {
    return value.get<T>();
  } catch (const json::exception&) {
    malformed(where, path + "." + key, "has the wrong type");
  }
}

std::vector<std::int64_t> readSizes(const json& object, const char* key, const std::string& where, const std::string& path) {
  const auto sizes = read<std::vector<std::int64_t>>(object, key, where, path);
  for (const std::int64_t size : sizes) {
    if (size < 0) malformed(where, path + "." + key, "holds a negative size");
  }
  return sizes;
}

json sliceToJson(const TensorSlice& slice) {
  return {{"begin", slice.begin}, {"size", slice.size}, {"flat_begin", slice.flat_begin}, {"numel", slice.numel}};
}

TensorSlice sliceFromJson(const json& value, std::size_t dims, const std::string& where, const std::string& path) {
  TensorSlice slice;
  slice.begin = readSizes(value, "begin", where, path);
  slice.size = readSizes(value, "size", where, path);
  slice.flat_begin = read<std::int64_t>(value, "flat_begin", where, path);
  slice.numel = read<std::int64_t>(value, "numel", where, path);
  if (slice.begin.size() != dims || slice.size.size() != dims) malformed(where, path, "has the wrong number of dimensions");
  if (slice.flat_begin < 0 || slice.numel < 0 || slice.flat_begin + slice.numel > slice.boxNumel()) {
    malformed(where, path, "takes elements outside its box");
  }
  return slice;
}

}  // namespace

std::int64_t TensorSlice::boxNumel() const {
  std::int64_t numel = 1;
  for (const std::int64_t s : size) numel *= s;
  return numel;
}

const IndexedTensor* CheckpointIndex::find(const std::string& name) const {
  const auto found = std::lower_bound(tensors.begin(), tensors.end(), name,
                                      [](const IndexedTensor& t, const std::string& n) { return t.name < n; });
  return found != tensors.end() && found->name == name ? &*found : nullptr;
}

json indexToJson(const CheckpointIndex& index) {
  json files = json::array();
  for (const auto& file : index.files) {
    files.push_back({{"name", file.name}, {"rank", file.rank}, {"bytes", file.bytes}, {"checksum", file.checksum}});
  }
  json tensors = json::array();
  for (const auto& tensor : index.tensors) {
    json pieces = json::array();
    for (const auto& piece : tensor.pieces) {
      pieces.push_back({{"file", piece.file}, {"key", piece.key}, {"slice", sliceToJson(piece.slice)},
                        {"checksum", piece.checksum}});
    }
    tensors.push_back({{"name", tensor.name}, {"shape", tensor.shape}, {"dtype", tensor.dtype}, {"pieces", pieces}});
  }
  return {{"format", index.format}, {"step", index.step}, {"world_size", index.world_size}, {"files", files},
          {"tensors", tensors}};
}

CheckpointIndex indexFromJson(const json& json_index, const std::string& where) {
  CheckpointIndex index;
  index.format = read<int>(json_index, "format", where, "index");
  if (index.format != kCheckpointFormatVersion) {
    malformed(where, "format", "is " + std::to_string(index.format) + "; this build reads format " +
                                   std::to_string(kCheckpointFormatVersion));
  }
  index.step = read<std::int64_t>(json_index, "step", where, "index");
  index.world_size = read<int>(json_index, "world_size", where, "index");
  const json& files = member(json_index, "files", where, "index");
  if (!files.is_array()) malformed(where, "files", "is not an array");
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::string path = "files[" + std::to_string(i) + "]";
    IndexedFile file;
    file.name = read<std::string>(files[i], "name", where, path);
    file.rank = read<int>(files[i], "rank", where, path);
    file.bytes = read<std::int64_t>(files[i], "bytes", where, path);
    file.checksum = read<std::string>(files[i], "checksum", where, path);
    // Names come from a file: never let one point outside the checkpoint directory.
    if (file.name.empty() || file.name.find('/') != std::string::npos || file.name.front() == '.') {
      malformed(where, path + ".name", "is not a plain file name");
    }
    index.files.push_back(std::move(file));
  }
  const json& tensors = member(json_index, "tensors", where, "index");
  if (!tensors.is_array()) malformed(where, "tensors", "is not an array");
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::string path = "tensors[" + std::to_string(i) + "]";
    IndexedTensor tensor;
    tensor.name = read<std::string>(tensors[i], "name", where, path);
    tensor.shape = readSizes(tensors[i], "shape", where, path);
    tensor.dtype = read<std::string>(tensors[i], "dtype", where, path);
    const json& pieces = member(tensors[i], "pieces", where, path);
    if (!pieces.is_array()) malformed(where, path + ".pieces", "is not an array");
    for (std::size_t k = 0; k < pieces.size(); ++k) {
      const std::string piece_path = path + ".pieces[" + std::to_string(k) + "]";
      StoredPiece piece;
      piece.file = read<std::string>(pieces[k], "file", where, piece_path);
      piece.key = read<std::string>(pieces[k], "key", where, piece_path);
      piece.slice = sliceFromJson(member(pieces[k], "slice", where, piece_path), tensor.shape.size(), where, piece_path);
      piece.checksum = read<std::string>(pieces[k], "checksum", where, piece_path);
      for (std::size_t d = 0; d < tensor.shape.size(); ++d) {
        if (piece.slice.begin[d] + piece.slice.size[d] > tensor.shape[d]) {
          malformed(where, piece_path, "reaches outside tensor " + tensor.name + "'s shape");
        }
      }
      const bool listed = std::any_of(index.files.begin(), index.files.end(), [&](const IndexedFile& f) { return f.name == piece.file; });
      if (!listed) malformed(where, piece_path + ".file", "names " + piece.file + ", which index.files does not list");
      tensor.pieces.push_back(std::move(piece));
    }
    index.tensors.push_back(std::move(tensor));
  }
  std::sort(index.tensors.begin(), index.tensors.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return index;
}

json trainingStateToJson(const TrainingState& s) {
  return {{"step", s.step},
          {"optimizer_updates", s.optimizer_updates},
          {"loss_scale", s.loss_scale},
          {"loss_scale_clean_steps", s.loss_scale_clean_steps},
          {"data_position", s.data_position},
          {"seed", s.seed},
          {"precision", s.precision},
          {"world_size", s.world_size},
          {"layout", s.layout},
          {"engine_version", s.engine_version},
          {"saved_at", s.saved_at},
          {"project", json::parse(s.project_json.empty() ? "{}" : s.project_json)}};
}

TrainingState trainingStateFromJson(const json& value, const std::string& where) {
  TrainingState s;
  s.step = read<std::int64_t>(value, "step", where, "state");
  s.optimizer_updates = read<std::int64_t>(value, "optimizer_updates", where, "state");
  s.loss_scale = read<double>(value, "loss_scale", where, "state");
  s.loss_scale_clean_steps = read<int>(value, "loss_scale_clean_steps", where, "state");
  s.data_position = read<std::int64_t>(value, "data_position", where, "state");
  s.seed = read<std::uint64_t>(value, "seed", where, "state");
  s.precision = read<std::string>(value, "precision", where, "state");
  s.world_size = read<int>(value, "world_size", where, "state");
  s.layout = read<std::string>(value, "layout", where, "state");
  s.engine_version = read<std::string>(value, "engine_version", where, "state");
  s.saved_at = read<std::string>(value, "saved_at", where, "state");
  const json& project = member(value, "project", where, "state");
  if (!project.is_object()) malformed(where, "project", "is not an object");
  s.project_json = project.dump();
  if (s.step < 0 || s.data_position < 0 || s.optimizer_updates < 0) malformed(where, "step", "is negative");
  return s;
}

std::string layoutDescription(const json& parallel) {
  const bool object = parallel.is_object();
  std::string text;
  for (const char* name : {"dp", "pp", "tp", "sp", "ep"}) {
    const int size = object ? parallel.value(name, 1) : 1;
    if (size <= 1) continue;
    if (!text.empty()) text += " × ";
    text += std::string(name) + " " + std::to_string(size);
  }
  if (text.empty()) text = "dp 1";
  const int zero = object ? parallel.value("zero", 0) : 0;
  if (zero > 0) text += ", ZeRO-" + std::to_string(zero);
  if (object && parallel.value("offload_optimizer", false)) text += " offload";
  if (object && parallel.value("sequence_parallel", false)) text += ", SP";
  return text;
}

}  // namespace behemoth
