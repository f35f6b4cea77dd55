#include "backend/model/layers.h"

#include <ATen/ATen.h>

namespace behemoth {

Embedding::Embedding(std::int64_t num_embeddings, std::int64_t dim) {
  weight = register_parameter("weight", at::empty({num_embeddings, dim}));
}

Embedding::Embedding(at::Tensor table) { weight = register_parameter("weight", std::move(table)); }

std::shared_ptr<Embedding> Embedding::ofTable(at::Tensor table) {
  return std::shared_ptr<Embedding>(new Embedding(std::move(table)));
}

at::Tensor Embedding::forward(const at::Tensor& indices) { return at::embedding(weight, indices); }

LayerNorm::LayerNorm(std::int64_t dim, double eps) : dim_(dim), eps_(eps) {
  weight = register_parameter("weight", at::ones({dim}));
  bias = register_parameter("bias", at::zeros({dim}));
}

at::Tensor LayerNorm::forward(const at::Tensor& input) { return at::layer_norm(input, {dim_}, weight, bias, eps_); }

RmsNorm::RmsNorm(std::int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", at::ones({dim}));
}

at::Tensor RmsNorm::forward(const at::Tensor& input) {
  const at::Tensor x = input.to(at::kFloat);
  const at::Tensor normalized = x * at::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  return weight * normalized.to(input.scalar_type());
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
