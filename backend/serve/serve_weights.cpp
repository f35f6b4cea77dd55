#include "backend/serve/serve_weights.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <vector>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/hf/hf_checkpoint.h"
#include "backend/hf/hf_import.h"
#include "backend/model/language_model.h"
#include "backend/train/checkpoint_loading.h"
#include "backend/train/checkpoint_parts.h"

namespace behemoth {

std::string WeightsSource::describe() const {
  switch (kind) {
    case Kind::seed: return "seed " + std::to_string(seed) + " (untrained)";
    case Kind::checkpoint: return "checkpoint " + path.string();
    case Kind::hugging_face: return "Hugging Face model " + path.string();
  }
  return "unknown";
}

namespace {

// The checkpoint's fp32 values of every parameter: its masters where training kept separate ones
// (bf16, fp16), else the working weights.
void loadCheckpointWeights(LanguageModel& model, const std::filesystem::path& step_dir) {
  const CheckpointIndex index = readCheckpointIndex(step_dir);
  const TrainingState state = readTrainingState(step_dir);
  std::vector<std::string> names;
  std::vector<at::Tensor> parameters;
  std::vector<std::vector<std::int64_t>> shapes;
  TensorParallelLayout layout;  // one process, every parameter whole
  for (const auto& item : model.named_parameters()) {
    names.push_back(item.key());
    parameters.push_back(item.value());
    shapes.push_back(item.value().sizes().vec());
    layout.placements[item.key()] = ParameterPlacement{};
  }
  layout.padded_vocab = model.config().vocab_size;
  std::vector<StateView> views;
  for (std::size_t k = 0; k < names.size(); ++k) {
    StateView view;
    view.kind = index.find("master/" + names[k]) ? "master" : "model";
    view.param = k;
    view.values = parameters[k].detach().view({-1});
    views.push_back(view);
  }
  PartsContext context;
  context.names = &names;
  context.parameters = &parameters;
  context.tp_layout = &layout;
  const std::vector<CheckpointPart> parts = checkpointParts(views, context);
  checkCheckpointMatches(step_dir, index, state, parts, names, shapes, state.precision);
  loadCheckpointParts(step_dir, index, parts);
}

}  // namespace

std::shared_ptr<LanguageModel> loadServedModel(const ModelConfig& config, const WeightsSource& source) {
  std::shared_ptr<LanguageModel> model = buildModel(config, source.seed);
  torch::NoGradGuard no_grad;
  if (source.kind == WeightsSource::Kind::checkpoint) loadCheckpointWeights(*model, source.path);
  if (source.kind == WeightsSource::Kind::hugging_face) {
    std::vector<std::pair<std::string, at::Tensor>> parameters;
    for (const auto& item : model->named_parameters()) parameters.emplace_back(item.key(), item.value());
    importHfWeightsIntoParameters(HfCheckpoint::open(source.path, config), parameters);
  }
  model->eval();
  for (const auto& item : model->named_parameters()) item.value().set_requires_grad(false);
  return model;
}

}  // namespace behemoth
