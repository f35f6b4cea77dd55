#include "backend/parallelize/grid_layers.h"

#include <stdexcept>
#include <string>

namespace behemoth {

int SharedGridInput::join(GridLinear* member) {
  members_.push_back(member);
  return static_cast<int>(members_.size()) - 1;
}

at::Tensor SharedGridInput::outputFor(const at::Tensor& input, int index) {
  const void* identity = input.unsafeGetTensorImpl();
  if (input_ != identity || !waiting_.at(index).defined()) {
    std::vector<at::Tensor> weights;
    for (const GridLinear* member : members_) weights.push_back(member->weight);
    waiting_ = gridMatmuls(input, weights, members_.front()->spec());
    input_ = identity;
  }
  at::Tensor output = std::move(waiting_.at(index));
  waiting_.at(index) = at::Tensor();
  return output;
}

GridLinear::GridLinear(at::Tensor weight_block, at::Tensor bias_block, GridMatmul spec,
                       std::shared_ptr<SharedGridInput> shared_input)
    : spec_(spec), shared_input_(std::move(shared_input)) {
  weight = register_parameter("weight", std::move(weight_block));
  if (bias_block.defined()) bias = register_parameter("bias", std::move(bias_block));
  if (shared_input_) shared_index_ = shared_input_->join(this);
}

at::Tensor GridLinear::forward(const at::Tensor& input) {
  const at::Tensor y = shared_input_ ? shared_input_->outputFor(input, shared_index_) : gridMatmuls(input, {weight}, spec_)[0];
  return bias.defined() ? y + bias : y;
}

GridEmbedding::GridEmbedding(at::Tensor table_block, GridLookup lookup) : Embedding(std::move(table_block)), lookup_(lookup) {}

at::Tensor GridEmbedding::forward(const at::Tensor& ids) {
  if (ids.size(0) % lookup_.lookup_chunks != 0) {
    throw std::invalid_argument("grid tensor parallelism: a micro-batch of " + std::to_string(ids.size(0)) +
                                " samples cannot be split into " + std::to_string(lookup_.lookup_chunks) + " equal chunks");
  }
  const std::int64_t rows = ids.size(0) / lookup_.lookup_chunks;
  return gridEmbedding(ids.narrow(0, rows * lookup_.lookup_chunk, rows), weight, *lookup_.table_group, lookup_.table_dim,
                       lookup_.first_row, *lookup_.sum_group, lookup_.sum_dim);
}

GridNorm::GridNorm(at::Tensor weight_block, at::Tensor bias_block, double eps, std::int64_t full_features,
                   Group& feature_group)
    : eps_(eps), full_features_(full_features), feature_group_(feature_group) {
  weight = register_parameter("weight", std::move(weight_block));
  if (bias_block.defined()) bias = register_parameter("bias", std::move(bias_block));
}

at::Tensor GridNorm::forward(const at::Tensor& input) {
  if (bias.defined()) return gridLayerNorm(input, weight, bias, eps_, full_features_, feature_group_);
  return gridRmsNorm(input, weight, eps_, full_features_, feature_group_);
}

}  // namespace behemoth
