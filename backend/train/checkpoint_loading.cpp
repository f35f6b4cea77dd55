#include "backend/train/checkpoint_loading.h"

#include <ATen/ATen.h>

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>

#include "backend/checkpoint/checksum.h"
#include "backend/checkpoint/safetensors.h"
#include "backend/checkpoint/slice_copy.h"
#include "backend/train/checkpoint_saver.h"

namespace behemoth {
namespace fs = std::filesystem;
namespace {

std::string shapeText(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t d = 0; d < shape.size(); ++d) text += (d ? ", " : "") + std::to_string(shape[d]);
  return text + "]";
}

// The files a rank opens while loading, each header read once.
class OpenFiles {
 public:
  explicit OpenFiles(fs::path dir) : dir_(std::move(dir)) {}

  // The bytes of one stored piece, checked against its checksum.
  std::vector<std::byte> readPiece(const IndexedTensor& tensor, const StoredPiece& piece) {
    File& file = open(piece.file);
    const SafetensorsEntry* entry = file.header.find(piece.key);
    const fs::path path = dir_ / piece.file;
    if (entry == nullptr) {
      throw std::invalid_argument(path.string() + ": has no tensor " + piece.key + " (index.json lists it for " + tensor.name + ")");
    }
    const std::int64_t expected = piece.slice.numel * safetensorsElementBytes(tensor.dtype);
    if (entry->dtype != tensor.dtype || entry->end - entry->begin != expected) {
      throw std::invalid_argument(path.string() + ": tensor " + piece.key + " differs from what index.json records");
    }
    std::vector<std::byte> bytes(static_cast<std::size_t>(expected));
    file.stream.seekg(file.header.dataOffset() + entry->begin);
    file.stream.read(reinterpret_cast<char*>(bytes.data()), expected);
    if (!file.stream) throw std::invalid_argument(path.string() + ": cannot read tensor " + piece.key + " (truncated?)");
    if (checksumOf(bytes.data(), bytes.size()) != piece.checksum) {
      throw std::invalid_argument(path.string() + ": tensor " + tensor.name + " fails its checksum (the file is corrupted)");
    }
    bytes_read_ += expected;
    return bytes;
  }
  std::int64_t bytesRead() const { return bytes_read_; }

 private:
  struct File {
    SafetensorsHeader header;
    std::ifstream stream;
  };
  File& open(const std::string& name) {
    auto found = files_.find(name);
    if (found != files_.end()) return *found->second;
    auto file = std::make_unique<File>();
    file->header = SafetensorsHeader::read(dir_ / name);
    file->stream.open(dir_ / name, std::ios::binary);
    if (!file->stream) throw std::invalid_argument((dir_ / name).string() + ": cannot be opened");
    return *files_.emplace(name, std::move(file)).first->second;
  }

  fs::path dir_;
  std::map<std::string, std::unique_ptr<File>> files_;
  std::int64_t bytes_read_ = 0;
};

}  // namespace

void checkCheckpointMatches(const fs::path& step_dir, const CheckpointIndex& index, const TrainingState& state,
                            const std::vector<CheckpointPart>& parts, const std::vector<std::string>& model_tensor_names,
                            const std::vector<std::vector<std::int64_t>>& model_tensor_shapes, const std::string& precision) {
  const std::string where = (step_dir / "index.json").string();
  // The model first: every parameter by name and shape, in both directions.
  std::map<std::string, std::vector<std::int64_t>> ours;
  for (std::size_t k = 0; k < model_tensor_names.size(); ++k) ours["model/" + model_tensor_names[k]] = model_tensor_shapes[k];
  for (const auto& [name, shape] : ours) {
    const IndexedTensor* stored = index.find(name);
    if (stored == nullptr) throw std::invalid_argument(where + ": another model: the checkpoint has no tensor " + name);
    if (stored->shape != shape) {
      throw std::invalid_argument(where + ": another model: tensor " + name + " is " + shapeText(stored->shape) +
                                  " in the checkpoint, " + shapeText(shape) + " in this project");
    }
  }
  for (const IndexedTensor& stored : index.tensors) {
    if (stored.name.rfind("model/", 0) == 0 && ours.count(stored.name) == 0) {
      throw std::invalid_argument(where + ": another model: the checkpoint has tensor " + stored.name + ", this project does not");
    }
  }
  if (state.precision != precision) {
    throw std::invalid_argument("precision: the checkpoint " + step_dir.string() + " was trained in " + state.precision +
                                "; resume it with precision " + state.precision);
  }
  for (const CheckpointPart& part : parts) {
    const IndexedTensor* stored = index.find(part.name);
    if (stored == nullptr) throw std::invalid_argument(where + ": the checkpoint has no tensor " + part.name);
    if (stored->shape != part.shape || stored->dtype != safetensorsDtypeOf(part.values)) {
      throw std::invalid_argument(where + ": tensor " + part.name + " is " + stored->dtype + " " + shapeText(stored->shape) +
                                  ", this run holds " + safetensorsDtypeOf(part.values) + " " + shapeText(part.shape));
    }
  }
}

std::int64_t loadCheckpointParts(const fs::path& step_dir, const CheckpointIndex& index,
                                 const std::vector<CheckpointPart>& parts) {
  OpenFiles files(step_dir);
  for (const CheckpointPart& part : parts) {
    const IndexedTensor& stored = *index.find(part.name);
    const int element_bytes = static_cast<int>(part.values.element_size());
    auto* base = static_cast<std::byte*>(part.values.data_ptr());
    std::vector<std::int64_t> filled(part.slices.size(), 0);
    for (const StoredPiece& piece : stored.pieces) {
      bool needed = false;
      for (const SliceOfValues& mine : part.slices) needed = needed || boxesOverlap(piece.slice, mine.slice);
      if (!needed) continue;
      const std::vector<std::byte> bytes = files.readPiece(stored, piece);
      for (std::size_t s = 0; s < part.slices.size(); ++s) {
        const SliceOfValues& mine = part.slices[s];
        filled[s] += copyOverlap(piece.slice, bytes.data(), mine.slice, base + mine.values_offset * element_bytes, element_bytes);
      }
    }
    for (std::size_t s = 0; s < part.slices.size(); ++s) {
      if (filled[s] != part.slices[s].slice.numel) {
        throw std::invalid_argument((step_dir / "index.json").string() + ": tensor " + part.name + ": the stored pieces cover " +
                                    std::to_string(filled[s]) + " of the " + std::to_string(part.slices[s].slice.numel) +
                                    " elements this rank needs");
      }
    }
  }
  return files.bytesRead();
}

}  // namespace behemoth
