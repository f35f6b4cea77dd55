#include "backend/model/layers.h"

#include <ATen/ATen.h>

#include "backend/model/fused_ops.h"
#include "parallel/step_profile.h"

namespace behemoth {

Embedding::Embedding(std::int64_t num_embeddings, std::int64_t dim) {
  weight = register_parameter("weight", at::empty({num_embeddings, dim}));
}

Embedding::Embedding(at::Tensor table) { weight = register_parameter("weight", std::move(table)); }

std::shared_ptr<Embedding> Embedding::ofTable(at::Tensor table) {
  return std::shared_ptr<Embedding>(new Embedding(std::move(table)));
}

at::Tensor Embedding::forward(const at::Tensor& indices) { return at::embedding(weight, indices); }

namespace {

// The fused kernels take fp32 or bf16 CPU tensors, x and residual of one dtype and shape.
bool fusable(const at::Tensor& x, const at::Tensor& residual) {
  return fusedKernelsTake(x) && (!residual.defined() || (residual.scalar_type() == x.scalar_type() &&
                                                        residual.sizes().equals(x.sizes())));
}

}  // namespace

std::pair<at::Tensor, at::Tensor> Norm::addThenNormalize(const at::Tensor& x, const at::Tensor& residual) {
  at::Tensor sum = x + residual;
  at::Tensor normalized = forward(sum);
  return {sum, normalized};
}

LayerNorm::LayerNorm(std::int64_t dim, double eps, bool fused) : dim_(dim), eps_(eps), fused_(fused) {
  weight = register_parameter("weight", at::ones({dim}));
  bias = register_parameter("bias", at::zeros({dim}));
}

at::Tensor LayerNorm::forward(const at::Tensor& input) {
  if (fused_ && fusable(input, {})) return fusedNorm(NormKind::layer_norm, input, weight, bias, eps_);
  return at::layer_norm(input, {dim_}, weight, bias, eps_);
}

std::pair<at::Tensor, at::Tensor> LayerNorm::addThenNormalize(const at::Tensor& x, const at::Tensor& residual) {
  if (fused_ && fusable(x, residual)) return fusedAddNorm(NormKind::layer_norm, x, residual, weight, bias, eps_);
  return Norm::addThenNormalize(x, residual);
}

RmsNorm::RmsNorm(std::int64_t dim, double eps, bool fused) : eps_(eps), fused_(fused) {
  weight = register_parameter("weight", at::ones({dim}));
}

at::Tensor RmsNorm::forward(const at::Tensor& input) {
  if (fused_ && fusable(input, {})) return fusedNorm(NormKind::rms_norm, input, weight, {}, eps_);
  const ProfileScope profile(OpKind::norm);
  const at::Tensor x = input.to(at::kFloat);
  const at::Tensor normalized = x * at::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  return weight * normalized.to(input.scalar_type());
}

std::pair<at::Tensor, at::Tensor> RmsNorm::addThenNormalize(const at::Tensor& x, const at::Tensor& residual) {
  if (fused_ && fusable(x, residual)) return fusedAddNorm(NormKind::rms_norm, x, residual, weight, {}, eps_);
  return Norm::addThenNormalize(x, residual);
}

std::string ownerModuleName(const std::string& parameter_name) {
  const auto last = parameter_name.rfind('.');
  if (last == std::string::npos) return {};
  const auto before = parameter_name.rfind('.', last - 1);
  const auto begin = before == std::string::npos ? 0 : before + 1;
  return parameter_name.substr(begin, last - begin);
}

bool endsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace behemoth
