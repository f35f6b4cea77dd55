#include "backend/hf/hf_import.h"

#include <ATen/ATen.h>

#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "backend/checkpoint/mapped_file.h"
#include "backend/hf/float_elements.h"

namespace behemoth {
namespace {

// The slice's elements, in its order, as fp32: element (g0, g1) of the engine's global tensor is
// element (g1, g0) of a transposed stored tensor.
std::vector<float> readSlice(const HfCheckpoint::Tensor& tensor, const std::byte* data, const TensorSlice& slice,
                             const std::vector<std::int64_t>& shape) {
  std::vector<float> values(static_cast<std::size_t>(slice.numel));
  const FloatDtype dtype = floatDtypeOf(tensor.entry.dtype);
  if (shape.size() == 1) {
    for (std::int64_t i = 0; i < slice.numel; ++i) values[i] = loadFloatElement(data, slice.begin[0] + slice.flat_begin + i, dtype);
    return values;
  }
  const std::int64_t box_columns = slice.size[1];
  for (std::int64_t i = 0; i < slice.numel; ++i) {
    const std::int64_t flat = slice.flat_begin + i;
    const std::int64_t row = slice.begin[0] + flat / box_columns;
    const std::int64_t column = slice.begin[1] + flat % box_columns;
    const std::int64_t stored = tensor.transposed ? column * shape[0] + row : row * shape[1] + column;
    values[i] = loadFloatElement(data, stored, dtype);
  }
  return values;
}

}  // namespace

std::int64_t importHfWeights(const HfCheckpoint& checkpoint, const std::vector<CheckpointPart>& parts,
                             const HfImportOptions& options) {
  std::map<std::filesystem::path, std::unique_ptr<MappedFile>> mapped;
  std::int64_t bytes_read = 0;
  at::NoGradGuard no_grad;
  for (const CheckpointPart& part : parts) {
    const auto slash = part.name.find('/');
    const std::string kind = part.name.substr(0, slash);
    if (kind != "model" && kind != "master") continue;
    const HfCheckpoint::Tensor& tensor = checkpoint.tensorOf(part.name.substr(slash + 1));
    if (part.shape.size() > 2) throw std::invalid_argument("model.hf_pretrained: " + part.name + " has more than 2 dimensions");
    auto& file = mapped[tensor.file];
    if (!file) file = std::make_unique<MappedFile>(tensor.file, "model.hf_pretrained");
    const std::byte* data = file->data() + tensor.data_offset + tensor.entry.begin;
    const int element_bytes = tensor.entry.dtype == "F32" ? 4 : 2;
    for (const SliceOfValues& piece : part.slices) {
      std::vector<float> values = readSlice(tensor, data, piece.slice, part.shape);
      bytes_read += piece.slice.numel * element_bytes;
      at::Tensor source = at::from_blob(values.data(), {piece.slice.numel}, at::kFloat);
      if (kind == "model" && options.round_working_to_half) source = source.to(at::kHalf);
      part.values.narrow(0, piece.values_offset, piece.slice.numel).copy_(source);
    }
  }
  return bytes_read;
}

std::int64_t importHfWeightsIntoParameters(const HfCheckpoint& checkpoint,
                                           const std::vector<std::pair<std::string, at::Tensor>>& parameters) {
  std::vector<CheckpointPart> parts;
  for (const auto& [name, parameter] : parameters) {
    CheckpointPart part;
    part.name = "model/" + name;
    part.shape = parameter.sizes().vec();
    part.values = parameter.detach().view({-1});
    SliceOfValues whole;
    whole.slice.begin.assign(part.shape.size(), 0);
    whole.slice.size = part.shape;
    whole.slice.numel = parameter.numel();
    part.slices.push_back(whole);
    parts.push_back(std::move(part));
  }
  return importHfWeights(checkpoint, parts);
}

}  // namespace behemoth
