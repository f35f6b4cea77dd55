#include "backend/model/init.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/nn/module.h>

#include <cmath>

#include "backend/data/counter_rng.h"

namespace behemoth {

namespace {

constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ull;
constexpr double kTwoPi = 6.283185307179586476925286766559;

// Box-Muller from two consecutive counters; one normal per element keeps every element addressable.
float seededNormalAt(std::uint64_t stream, std::int64_t index) {
  const auto counter = static_cast<std::uint64_t>(index) * 2;
  const double u1 = unitOpenInterval(splitmix64(stream + counter * kGolden));
  const double u2 = unitOpenInterval(splitmix64(stream + (counter + 1) * kGolden));
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2));
}

}  // namespace

std::uint64_t parameterStream(std::uint64_t seed, const std::string& name) {
  return counterHash(seed, stableNameHash(name));
}

void fillSeededNormal(at::Tensor& out, std::uint64_t stream, double std, std::int64_t first_index) {
  at::Tensor values = at::empty(out.sizes(), at::TensorOptions().dtype(at::kFloat));
  float* data = values.data_ptr<float>();
  const auto scale = static_cast<float>(std);
  at::parallel_for(0, values.numel(), 1 << 14, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) data[i] = scale * seededNormalAt(stream, first_index + i);
  });
  out.copy_(values);
}

void initializeParameters(torch::nn::Module& module, std::uint64_t seed,
                          const std::function<InitRule(const std::string& name)>& rule) {
  at::NoGradGuard no_grad;
  for (auto& item : module.named_parameters(/*recurse=*/true)) {
    at::Tensor& parameter = item.value();
    const InitRule init = rule(item.key());
    switch (init.kind) {
      case InitKind::zeros: parameter.zero_(); break;
      case InitKind::ones: parameter.fill_(1.0); break;
      case InitKind::normal: fillSeededNormal(parameter, parameterStream(seed, item.key()), init.std); break;
    }
  }
}

}  // namespace behemoth
