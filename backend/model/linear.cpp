#include "backend/model/linear.h"

#include <ATen/ATen.h>

#include <stdexcept>
#include <utility>

#include "parallel/deferred_weight_grad.h"

namespace behemoth {

DenseLinear::DenseLinear(std::int64_t in_features, std::int64_t out_features, bool with_bias) {
  weight = register_parameter("weight", at::empty({out_features, in_features}));
  if (with_bias) bias = register_parameter("bias", at::empty({out_features}));
}

at::Tensor DenseLinear::forward(const at::Tensor& input) { return deferrableLinear(input, weight, bias); }

void LinearOwner::addLinear(const std::string& name, std::shared_ptr<LinearLayer> layer) {
  linears_[name] = register_module(name, std::move(layer));
}

void LinearOwner::replaceLinear(const std::string& name, std::shared_ptr<LinearLayer> layer) {
  const auto found = linears_.find(name);
  if (found == linears_.end()) {
    throw std::invalid_argument("replaceLinear: module '" + this->name() + "' has no linear layer '" + name + "'");
  }
  found->second = replace_module(name, std::move(layer));
}

LinearLayer& LinearOwner::linear(const std::string& name) const {
  const auto found = linears_.find(name);
  if (found == linears_.end()) throw std::logic_error("linear layer '" + name + "' was never added");
  return *found->second;
}

void LinearOwner::addNorm(const std::string& name, std::shared_ptr<Norm> norm) {
  norms_[name] = register_module(name, std::move(norm));
}

void LinearOwner::replaceNorm(const std::string& name, std::shared_ptr<Norm> norm) {
  const auto found = norms_.find(name);
  if (found == norms_.end()) {
    throw std::invalid_argument("replaceNorm: module '" + this->name() + "' has no norm '" + name + "'");
  }
  found->second = replace_module(name, std::move(norm));
}

Norm& LinearOwner::norm(const std::string& name) const {
  const auto found = norms_.find(name);
  if (found == norms_.end()) throw std::logic_error("norm '" + name + "' was never added");
  return *found->second;
}

namespace {

// The LinearOwner holding `path` ("lm_head" is owned by the root, key ""; "blocks.0.attn.qkv" by
// "blocks.0.attn") and the layer's name inside it.
std::pair<LinearOwner*, std::string> ownerOf(torch::nn::Module& root, const std::string& path, const char* what) {
  const auto last_dot = path.rfind('.');
  const std::string owner_path = last_dot == std::string::npos ? std::string() : path.substr(0, last_dot);
  const std::string layer_name = last_dot == std::string::npos ? path : path.substr(last_dot + 1);
  for (const auto& item : root.named_modules()) {
    if (item.key() != owner_path) continue;
    auto* owner = dynamic_cast<LinearOwner*>(item.value().get());
    if (owner == nullptr) {
      throw std::invalid_argument(std::string(what) + ": '" + path + "' is not a swappable layer (its owner holds none)");
    }
    return {owner, layer_name};
  }
  throw std::invalid_argument(std::string(what) + ": no module '" + owner_path + "' in the model");
}

}  // namespace

void replaceLinear(torch::nn::Module& root, const std::string& path, std::shared_ptr<LinearLayer> layer) {
  const auto [owner, name] = ownerOf(root, path, "replaceLinear");
  owner->replaceLinear(name, std::move(layer));
}

void replaceNorm(torch::nn::Module& root, const std::string& path, std::shared_ptr<Norm> norm) {
  const auto [owner, name] = ownerOf(root, path, "replaceNorm");
  owner->replaceNorm(name, std::move(norm));
}

}  // namespace behemoth
