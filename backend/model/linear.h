// Linear layers as swappable named submodules.
//
// Every projection of the zoo models is a LinearLayer registered under a stable name
// ("blocks.0.attn.qkv"). Parallel strategies replace one with their own LinearLayer (e.g. a
// column-parallel shard) through replaceLinear(); the owning block looks its layers up by name at
// forward time, so it picks the replacement up without knowing about it.
#pragma once

#include <ATen/Tensor.h>
#include <torch/nn/module.h>

#include <map>
#include <memory>
#include <string>

#include "backend/model/layers.h"

namespace behemoth {

class LinearLayer : public torch::nn::Module {
 public:
  virtual at::Tensor forward(const at::Tensor& input) = 0;
  // forward(x) == forwardPrepared(prepareInput(x)). prepareInput is what the layer's matmul reads:
  // the input itself for a dense layer; for a tensor-parallel column shard the input after the
  // Megatron f operator (or the sequence all-gather). Layers fed the same input (q, k, v; gate and
  // up) share one prepared tensor, so its collective runs once.
  virtual at::Tensor prepareInput(const at::Tensor& input) { return input; }
  virtual at::Tensor forwardPrepared(const at::Tensor& prepared) { return forward(prepared); }
};

// y = x W^T + b with W [out_features, in_features]; parameters "weight" and, if with_bias, "bias".
// Values are left uninitialized: the model initializes every parameter from the seed afterwards.
class DenseLinear : public LinearLayer {
 public:
  DenseLinear(std::int64_t in_features, std::int64_t out_features, bool with_bias);
  at::Tensor forward(const at::Tensor& input) override;

  at::Tensor weight;
  at::Tensor bias;  // undefined without bias
};

// A module that owns named LinearLayers and Norms (layers.h), each swappable by name.
class LinearOwner : public torch::nn::Module {
 public:
  // Swaps the layer registered as `name`; throws std::invalid_argument if there is none.
  void replaceLinear(const std::string& name, std::shared_ptr<LinearLayer> layer);
  void replaceNorm(const std::string& name, std::shared_ptr<Norm> norm);

 protected:
  void addLinear(const std::string& name, std::shared_ptr<LinearLayer> layer);
  LinearLayer& linear(const std::string& name) const;
  void addNorm(const std::string& name, std::shared_ptr<Norm> norm);
  Norm& norm(const std::string& name) const;

 private:
  std::map<std::string, std::shared_ptr<LinearLayer>> linears_;
  std::map<std::string, std::shared_ptr<Norm>> norms_;
};

// Replaces the LinearLayer at a dotted module path under `root` ("blocks.1.mlp.fc").
// Throws std::invalid_argument naming the path when it does not lead to a linear layer.
void replaceLinear(torch::nn::Module& root, const std::string& path, std::shared_ptr<LinearLayer> layer);
// The same for the Norm at `path` ("blocks.1.ln2", "ln_f").
void replaceNorm(torch::nn::Module& root, const std::string& path, std::shared_ptr<Norm> norm);

}  // namespace behemoth
