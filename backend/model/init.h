// Seeded parameter initialization that depends only on (seed, parameter name, element index).
//
// Every element is drawn from a counter-based generator (backend/data/counter_rng.h), so the
// initial weights are the same for every parallel layout, construction order, device and LibTorch
// version: a parameter keeps its values when other parameters are added or removed, and a shard of a
// parameter can draw exactly its own slice (fillSeededNormal with `first_index`).
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>

namespace torch::nn {
class Module;
}

namespace behemoth {

enum class InitKind { normal, zeros, ones };

struct InitRule {
  InitKind kind = InitKind::normal;
  double std = 0.0;  // for InitKind::normal
};

// The stream of one parameter: a hash of the run seed and the parameter's dotted name.
std::uint64_t parameterStream(std::uint64_t seed, const std::string& name);

// Fills `out` (any shape, dtype, device) with N(0, std) values number first_index, first_index + 1,
// ... of `stream`, in row-major order of `out`.
void fillSeededNormal(at::Tensor& out, std::uint64_t stream, double std, std::int64_t first_index = 0);

// Re-initializes every parameter of `module` (named recursively, e.g. "blocks.0.attn.qkv.weight")
// according to `rule(name)`. Runs without recording gradients.
void initializeParameters(torch::nn::Module& module, std::uint64_t seed,
                          const std::function<InitRule(const std::string& name)>& rule);

}  // namespace behemoth
