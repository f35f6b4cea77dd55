// Small building blocks of the zoo models that LibTorch either lacks (RMSNorm in 1.13) or would
// initialize from the global torch generator (Embedding): ours allocate only, the model's seeded
// initialization fills them.
#pragma once

#include <utility>

#include <ATen/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>

namespace behemoth {

// Table lookup; parameter "weight" [num_embeddings, dim]. Tensor parallelism swaps in a
// vocabulary-parallel subclass (backend/parallelize/tensor_parallel_layers.h).
class Embedding : public torch::nn::Module {
 public:
  Embedding(std::int64_t num_embeddings, std::int64_t dim);
  // A plain lookup of `table` (registered as "weight"): a block of columns of a larger table.
  static std::shared_ptr<Embedding> ofTable(at::Tensor table);
  virtual ~Embedding() = default;
  virtual at::Tensor forward(const at::Tensor& indices);

  at::Tensor weight;

 protected:
  explicit Embedding(at::Tensor table);  // registers `table` as "weight"
};

// A normalization over the last dimension, swappable like a LinearLayer (linear.h): 2D and 3D
// tensor parallelism replace it with one over features split across ranks.
class Norm : public torch::nn::Module {
 public:
  virtual ~Norm() = default;
  virtual at::Tensor forward(const at::Tensor& input) = 0;
  // {x + residual, forward(x + residual)}: the residual stream and its normalized copy, which a
  // norm with a fused kernel computes in one pass.
  virtual std::pair<at::Tensor, at::Tensor> addThenNormalize(const at::Tensor& x, const at::Tensor& residual);
};

// torch.nn.LayerNorm over the last dimension (at::layer_norm); parameters "weight" and "bias" [dim].
class LayerNorm : public Norm {
 public:
  // fused: the fused CPU kernel (model.kernels) wherever it takes the tensors, at::layer_norm elsewhere.
  LayerNorm(std::int64_t dim, double eps, bool fused = false);
  at::Tensor forward(const at::Tensor& input) override;
  std::pair<at::Tensor, at::Tensor> addThenNormalize(const at::Tensor& x, const at::Tensor& residual) override;

  at::Tensor weight;
  at::Tensor bias;

 private:
  std::int64_t dim_;
  double eps_;
  bool fused_;
};

// x / sqrt(mean(x^2) + eps) * weight over the last dimension, computed in float32 (as LLaMA does)
// and returned in the input's dtype; parameter "weight" [dim].
class RmsNorm : public Norm {
 public:
  RmsNorm(std::int64_t dim, double eps, bool fused = false);
  at::Tensor forward(const at::Tensor& input) override;
  std::pair<at::Tensor, at::Tensor> addThenNormalize(const at::Tensor& x, const at::Tensor& residual) override;

  at::Tensor weight;

 private:
  double eps_;
  bool fused_;
};

// Helpers shared by both architectures' init rules: "blocks.0.ln1.weight" -> "ln1".
std::string ownerModuleName(const std::string& parameter_name);
bool endsWith(const std::string& text, const std::string& suffix);

}  // namespace behemoth
