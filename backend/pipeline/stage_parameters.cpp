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

namespace {

struct StageEntry {
  std::string name;
  std::vector<std::int64_t> shape;
  at::Tensor values;  // fp32, undefined when only shapes are gathered
};

// Stage by stage, each stage broadcasts its names ('\n'-joined), shapes (ndim, dims...) and, with
// `with_values`, its values as one fp32 vector.
std::vector<StageEntry> gatherStages(const std::vector<StageEntry>& mine, Group& pp, bool with_values) {
  std::vector<StageEntry> all;
  std::set<std::string> seen;
  for (int stage = 0; stage < pp.size(); ++stage) {
    const bool root = pp.rank() == stage;
    std::string names;
    std::vector<std::int64_t> shapes;
    std::vector<at::Tensor> values;
    if (root) {
      for (const StageEntry& entry : mine) {
        names += entry.name + "\n";
        shapes.push_back(static_cast<std::int64_t>(entry.shape.size()));
        shapes.insert(shapes.end(), entry.shape.begin(), entry.shape.end());
        if (with_values) values.push_back(entry.values.to(at::kFloat).reshape({-1}));
      }
    }
    at::Tensor name_bytes = at::empty({static_cast<std::int64_t>(names.size())}, at::kByte);
    if (!names.empty()) std::memcpy(name_bytes.data_ptr(), names.data(), names.size());
    name_bytes = broadcastVector(name_bytes, stage, pp, at::kByte);
    const at::Tensor shape_values = broadcastVector(at::tensor(shapes, at::kLong), stage, pp, at::kLong);
    at::Tensor flat;
    if (with_values) flat = broadcastVector(values.empty() ? at::empty({0}, at::kFloat) : at::cat(values), stage, pp, at::kFloat);

    const std::string received(static_cast<const char*>(name_bytes.data_ptr()), static_cast<std::size_t>(name_bytes.numel()));
    const auto* shape = shape_values.data_ptr<std::int64_t>();
    std::int64_t at_shape = 0;
    std::int64_t at_value = 0;
    std::size_t start = 0;
    while (start < received.size()) {
      const std::size_t end = received.find('\n', start);
      StageEntry entry;
      entry.name = received.substr(start, end - start);
      start = end + 1;
      const std::int64_t dims = shape[at_shape++];
      entry.shape.assign(shape + at_shape, shape + at_shape + dims);
      at_shape += dims;
      std::int64_t numel = 1;
      for (const auto size : entry.shape) numel *= size;
      if (with_values) entry.values = flat.narrow(0, at_value, numel).reshape(entry.shape).clone();
      at_value += numel;
      if (seen.insert(entry.name).second) all.push_back(std::move(entry));
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const StageEntry& a, const StageEntry& b) { return orderKey(a.name) < orderKey(b.name); });
  return all;
}

}  // namespace

std::vector<std::pair<std::string, at::Tensor>> gatherStageParameters(
    const std::vector<std::pair<std::string, at::Tensor>>& mine, Group& pp) {
  std::vector<StageEntry> entries;
  for (const auto& [name, tensor] : mine) entries.push_back({name, tensor.sizes().vec(), tensor});
  std::vector<std::pair<std::string, at::Tensor>> all;
  for (StageEntry& entry : gatherStages(entries, pp, /*with_values=*/true)) all.emplace_back(entry.name, std::move(entry.values));
  return all;
}

std::vector<std::pair<std::string, std::vector<std::int64_t>>> gatherStageShapes(
    const std::vector<std::pair<std::string, std::vector<std::int64_t>>>& mine, Group& pp) {
  std::vector<StageEntry> entries;
  for (const auto& [name, shape] : mine) entries.push_back({name, shape, at::Tensor()});
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> all;
  for (StageEntry& entry : gatherStages(entries, pp, /*with_values=*/false)) all.emplace_back(entry.name, std::move(entry.shape));
  return all;
}

}  // namespace behemoth
