#include "kernels/fused_swiglu.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/vector_math.h"

namespace behemoth {
namespace {

using vector_math::load;
using vector_math::store;
BEHEMOTH_INLINE float sigmoid(float a) { return 1.0f / (1.0f + vector_math::exp(-a)); }

template <typename T>
BEHEMOTH_INLINE void forwardRange(const T* __restrict gate, const T* __restrict up, T* __restrict out, std::int64_t n) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    const float a = load(gate, i);
    store(out, i, a * sigmoid(a) * load(up, i));
  }
}

// d/d gate = g * up * s (1 + a (1 - s)),  d/d up = g * a * s,  s = sigmoid(a).
template <typename T>
BEHEMOTH_INLINE void backwardRange(const T* __restrict grad, const T* __restrict gate, const T* __restrict up,
                                   T* __restrict grad_gate, T* __restrict grad_up, std::int64_t n) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    const float a = load(gate, i);
    const float g = load(grad, i);
    const float s = sigmoid(a);
    store(grad_gate, i, g * load(up, i) * s * (1.0f + a * (1.0f - s)));
    store(grad_up, i, g * a * s);
  }
}

BEHEMOTH_VECTOR_CLONES void forwardFloat(const float* gate, const float* up, float* out, std::int64_t n) {
  forwardRange(gate, up, out, n);
}
// bf16 through float blocks on the stack (vector_math::kStage): the same float loops.
using vector_math::kStage;
using vector_math::narrow;
using vector_math::widen;

BEHEMOTH_VECTOR_CLONES void forwardBf16(const std::uint16_t* gate, const std::uint16_t* up, std::uint16_t* out, std::int64_t n) {
  alignas(64) float a[kStage], b[kStage], y[kStage];
  for (std::int64_t first = 0; first < n; first += kStage) {
    const std::int64_t m = std::min(kStage, n - first);
    widen(gate + first, a, m);
    widen(up + first, b, m);
    forwardRange(a, b, y, m);
    narrow(y, out + first, m);
  }
}
BEHEMOTH_VECTOR_CLONES void backwardFloat(const float* grad, const float* gate, const float* up, float* grad_gate,
                                          float* grad_up, std::int64_t n) {
  backwardRange(grad, gate, up, grad_gate, grad_up, n);
}
BEHEMOTH_VECTOR_CLONES void backwardBf16(const std::uint16_t* grad, const std::uint16_t* gate, const std::uint16_t* up,
                                         std::uint16_t* grad_gate, std::uint16_t* grad_up, std::int64_t n) {
  alignas(64) float g[kStage], a[kStage], b[kStage], da[kStage], db[kStage];
  for (std::int64_t first = 0; first < n; first += kStage) {
    const std::int64_t m = std::min(kStage, n - first);
    widen(grad + first, g, m);
    widen(gate + first, a, m);
    widen(up + first, b, m);
    backwardRange(g, a, b, da, db, m);
    narrow(da, grad_gate + first, m);
    narrow(db, grad_up + first, m);
  }
}

void checkPair(const char* what, const at::Tensor& a, const at::Tensor& b) {
  if (!a.device().is_cpu() || (a.scalar_type() != at::kFloat && a.scalar_type() != at::kBFloat16)) {
    throw std::invalid_argument(std::string(what) + ": expected fp32 or bf16 CPU tensors, got " +
                                std::string(c10::toString(a.scalar_type())));
  }
  if (!a.sizes().equals(b.sizes()) || a.scalar_type() != b.scalar_type()) {
    throw std::invalid_argument(std::string(what) + ": the tensors must share one shape and dtype");
  }
}

template <typename T>
T* raw(const at::Tensor& t) {
  return reinterpret_cast<T*>(t.data_ptr());
}

constexpr std::int64_t kGrain = 65536;

}  // namespace

at::Tensor swigluForward(const at::Tensor& gate_in, const at::Tensor& up_in) {
  checkPair("swigluForward", gate_in, up_in);
  const at::Tensor gate = gate_in.contiguous();
  const at::Tensor up = up_in.contiguous();
  at::Tensor out = at::empty_like(gate);
  at::parallel_for(0, gate.numel(), kGrain, [&](std::int64_t begin, std::int64_t end) {
    if (gate.scalar_type() == at::kFloat) {
      forwardFloat(raw<float>(gate) + begin, raw<float>(up) + begin, raw<float>(out) + begin, end - begin);
    } else {
      using U = std::uint16_t;
      forwardBf16(raw<U>(gate) + begin, raw<U>(up) + begin, raw<U>(out) + begin, end - begin);
    }
  });
  return out;
}

std::pair<at::Tensor, at::Tensor> swigluBackward(const at::Tensor& grad_in, const at::Tensor& gate_in, const at::Tensor& up_in) {
  checkPair("swigluBackward", gate_in, up_in);
  checkPair("swigluBackward", grad_in, gate_in);
  const at::Tensor grad = grad_in.contiguous();
  const at::Tensor gate = gate_in.contiguous();
  const at::Tensor up = up_in.contiguous();
  at::Tensor grad_gate = at::empty_like(gate);
  at::Tensor grad_up = at::empty_like(up);
  at::parallel_for(0, gate.numel(), kGrain, [&](std::int64_t begin, std::int64_t end) {
    if (gate.scalar_type() == at::kFloat) {
      backwardFloat(raw<float>(grad) + begin, raw<float>(gate) + begin, raw<float>(up) + begin, raw<float>(grad_gate) + begin,
                    raw<float>(grad_up) + begin, end - begin);
    } else {
      using U = std::uint16_t;
      backwardBf16(raw<U>(grad) + begin, raw<U>(gate) + begin, raw<U>(up) + begin, raw<U>(grad_gate) + begin,
                   raw<U>(grad_up) + begin, end - begin);
    }
  });
  return {grad_gate, grad_up};
}

}  // namespace behemoth
