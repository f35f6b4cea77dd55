#include "backend/pipeline/stage_parameters.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <tuple>

#include "backend/project/project.h"
#include "parallel/group.h"
#include "parallel/pipeline/stage_layers.h"

namespace behemoth {
namespace {

// Broadcasts a 1-D tensor of unknown length from `root`: its length first, then its elements.
at::Tensor broadcastVector(const at::Tensor& mine, int root, Group& group, at::ScalarType dtype) {
  at::Tensor length = at::full({1}, group.rank() == root ? mine.numel() : 0, at::kLong);
  group.broadcast(length, root);
  at::Tensor values = group.rank() == root ? mine.contiguous() : at::empty({length.item<std::int64_t>()}, at::TensorOptions().dtype(dtype));
  if (values.numel() > 0) group.broadcast(values, root);
  return values;
}

// The whole model's order: embeddings, then blocks by index, then the head (names inside a block
// keep the order they came in).
std::tuple<int, int> orderKey(const std::string& name) {
  const std::string prefix = "blocks.";
  if (name.rfind(prefix, 0) == 0) return {1, std::stoi(name.substr(prefix.size()))};
  if (name.rfind("tok_emb.", 0) == 0 || name.rfind("pos_emb.", 0) == 0) return {0, 0};
  return {2, 0};
}

}  // namespace

ModelPart stageModelPart(const Project& project, int stage) {
  const Plan& plan = project.plan;
  if (plan.pp == 1) return ModelPart::whole();
  ModelPart part;
  part.chunks = rankChunks(virtualStageBlocks(project.model.n_layer, plan.pp, plan.pp_virtual, plan.pp_layers), plan.pp, stage);
  part.embedding = stage == 0;
  part.head = stage == plan.pp - 1;
  return part;
}

std::vector<std::pair<std::string, at::Tensor>> gatherStageParameters(
    const std::vector<std::pair<std::string, at::Tensor>>& mine, Group& pp) {
  std::vector<std::pair<std::string, at::Tensor>> all;
  std::set<std::string> seen;
  for (int stage = 0; stage < pp.size(); ++stage) {
    const bool root = pp.rank() == stage;
    // Names joined by '\n', shapes as (ndim, dims...), values as one fp32 vector.
    std::string names;
    std::vector<std::int64_t> shapes;
    std::vector<at::Tensor> values;
    if (root) {
      for (const auto& [name, tensor] : mine) {
        names += name + "\n";
        shapes.push_back(tensor.dim());
        for (const auto size : tensor.sizes()) shapes.push_back(size);
        values.push_back(tensor.to(at::kFloat).reshape({-1}));
      }
    }
    at::Tensor name_bytes = at::empty({static_cast<std::int64_t>(names.size())}, at::kByte);
    if (!names.empty()) std::memcpy(name_bytes.data_ptr(), names.data(), names.size());
    name_bytes = broadcastVector(name_bytes, stage, pp, at::kByte);
    const at::Tensor shape_values =
        broadcastVector(at::tensor(shapes.empty() ? std::vector<std::int64_t>{} : shapes, at::kLong), stage, pp, at::kLong);
    const at::Tensor flat = broadcastVector(values.empty() ? at::empty({0}, at::kFloat) : at::cat(values), stage, pp, at::kFloat);

    const std::string received(static_cast<const char*>(name_bytes.data_ptr()), static_cast<std::size_t>(name_bytes.numel()));
    const auto* shape = shape_values.data_ptr<std::int64_t>();
    std::int64_t at_shape = 0;
    std::int64_t at_value = 0;
    std::size_t start = 0;
    while (start < received.size()) {
      const std::size_t end = received.find('\n', start);
      const std::string name = received.substr(start, end - start);
      start = end + 1;
      const std::int64_t dims = shape[at_shape++];
      std::vector<std::int64_t> sizes(shape + at_shape, shape + at_shape + dims);
      at_shape += dims;
      std::int64_t numel = 1;
      for (const auto size : sizes) numel *= size;
      const at::Tensor tensor = flat.narrow(0, at_value, numel).reshape(sizes).clone();
      at_value += numel;
      if (seen.insert(name).second) all.emplace_back(name, tensor);
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return orderKey(a.first) < orderKey(b.first); });
  return all;
}

}  // namespace behemoth
