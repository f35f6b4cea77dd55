#include "kernels/fused_gelu.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/vector_math.h"

namespace behemoth {
namespace {

constexpr float kSqrtTwoOverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;

// Elements as float, whatever they are stored as.
using vector_math::load;
using vector_math::store;

// sigmoid(2u) for z: the factor gelu multiplies z by.
BEHEMOTH_INLINE float gate(float z) {
  const float u = kSqrtTwoOverPi * (z + kCubic * z * z * z);
  return 1.0f / (1.0f + vector_math::exp(-2.0f * u));
}

// One row at a time; the bias is a template argument so that the inner loop has no branch.
template <bool kBias, typename T>
BEHEMOTH_INLINE void forwardRow(const T* __restrict in, const T* __restrict bias, T* __restrict out, std::int64_t cols) {
#pragma omp simd
  for (std::int64_t c = 0; c < cols; ++c) {
    const float z = kBias ? load(in, c) + load(bias, c) : load(in, c);
    store(out, c, z * gate(z));
  }
}

template <typename T>
BEHEMOTH_INLINE void forwardRows(const T* __restrict x, const T* __restrict bias, T* __restrict y, std::int64_t rows,
                                 std::int64_t cols) {
  for (std::int64_t r = 0; r < rows; ++r) {
    if (bias) {
      forwardRow<true>(x + r * cols, bias, y + r * cols, cols);
    } else {
      forwardRow<false>(x + r * cols, bias, y + r * cols, cols);
    }
  }
}

// d gelu / dz = s + z * 2 s (1 - s) * du/dz, s = sigmoid(2u). The bias gradient of these rows is
// added into bias_grad (float, one per column).
template <bool kBias, typename T>
BEHEMOTH_INLINE void backwardRow(const T* __restrict g, const T* __restrict in, const T* __restrict bias,
                                 T* __restrict out, float* __restrict bias_grad, std::int64_t cols) {
#pragma omp simd
  for (std::int64_t c = 0; c < cols; ++c) {
    const float z = kBias ? load(in, c) + load(bias, c) : load(in, c);
    const float s = gate(z);
    const float du = kSqrtTwoOverPi * (1.0f + 3.0f * kCubic * z * z);
    const float dz = load(g, c) * (s + 2.0f * z * s * (1.0f - s) * du);
    store(out, c, dz);
    if (kBias) bias_grad[c] += dz;
  }
}

template <typename T>
BEHEMOTH_INLINE void backwardRows(const T* __restrict grad, const T* __restrict x, const T* __restrict bias,
                                  T* __restrict grad_x, float* __restrict bias_grad, std::int64_t rows, std::int64_t cols) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t o = r * cols;
    if (bias) {
      backwardRow<true>(grad + o, x + o, bias, grad_x + o, bias_grad, cols);
    } else {
      backwardRow<false>(grad + o, x + o, bias, grad_x + o, bias_grad, cols);
    }
  }
}

// One compiled clone set per element type.
BEHEMOTH_VECTOR_CLONES void forwardFloat(const float* x, const float* bias, float* y, std::int64_t rows, std::int64_t cols) {
  forwardRows(x, bias, y, rows, cols);
}
// bf16 through float blocks on the stack (vector_math::kStage): the same float row loops.
using vector_math::kStage;
using vector_math::narrow;
using vector_math::widen;

BEHEMOTH_VECTOR_CLONES void forwardBf16(const std::uint16_t* x, const std::uint16_t* bias, std::uint16_t* y,
                                        std::int64_t rows, std::int64_t cols) {
  alignas(64) float in[kStage], b[kStage], out[kStage];
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t first = 0; first < cols; first += kStage) {
      const std::int64_t m = std::min(kStage, cols - first);
      widen(x + r * cols + first, in, m);
      if (bias) {
        widen(bias + first, b, m);
        forwardRow<true>(in, b, out, m);
      } else {
        forwardRow<false>(in, b, out, m);
      }
      narrow(out, y + r * cols + first, m);
    }
  }
}
BEHEMOTH_VECTOR_CLONES void backwardFloat(const float* grad, const float* x, const float* bias, float* grad_x,
                                          float* bias_grad, std::int64_t rows, std::int64_t cols) {
  backwardRows(grad, x, bias, grad_x, bias_grad, rows, cols);
}
BEHEMOTH_VECTOR_CLONES void backwardBf16(const std::uint16_t* grad, const std::uint16_t* x, const std::uint16_t* bias,
                                         std::uint16_t* grad_x, float* bias_grad, std::int64_t rows, std::int64_t cols) {
  alignas(64) float g[kStage], in[kStage], b[kStage], out[kStage];
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t first = 0; first < cols; first += kStage) {
      const std::int64_t m = std::min(kStage, cols - first);
      const std::int64_t o = r * cols + first;
      widen(grad + o, g, m);
      widen(x + o, in, m);
      if (bias) {
        widen(bias + first, b, m);
        backwardRow<true>(g, in, b, out, bias_grad + first, m);
      } else {
        backwardRow<false>(g, in, b, out, nullptr, m);
      }
      narrow(out, grad_x + o, m);
    }
  }
}

void checkInputs(const char* what, const at::Tensor& x, const at::Tensor& bias) {
  if (!x.device().is_cpu() || (x.scalar_type() != at::kFloat && x.scalar_type() != at::kBFloat16)) {
    throw std::invalid_argument(std::string(what) + ": expected an fp32 or bf16 CPU tensor, got " +
                                std::string(c10::toString(x.scalar_type())));
  }
  if (x.dim() < 1) throw std::invalid_argument(std::string(what) + ": the input needs a last dimension");
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != x.size(-1) || bias.scalar_type() != x.scalar_type())) {
    throw std::invalid_argument(std::string(what) + ": the bias must be [" + std::to_string(x.size(-1)) + "] of the input's dtype");
  }
}

// Rows handed to one thread at a time: about 64k elements, so small inputs stay on one thread.
std::int64_t grainRows(std::int64_t cols) { return std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(cols, 1)); }

template <typename T>
const T* dataOf(const at::Tensor& t) {
  return t.defined() ? reinterpret_cast<const T*>(t.data_ptr()) : nullptr;
}

}  // namespace

at::Tensor geluTanhForward(const at::Tensor& x_in, const at::Tensor& bias_in) {
  checkInputs("geluTanhForward", x_in, bias_in);
  const at::Tensor x = x_in.contiguous();
  const at::Tensor bias = bias_in.defined() ? bias_in.contiguous() : bias_in;
  at::Tensor y = at::empty_like(x);
  const std::int64_t cols = x.size(-1);
  const std::int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  at::parallel_for(0, rows, grainRows(cols), [&](std::int64_t begin, std::int64_t end) {
    if (x.scalar_type() == at::kFloat) {
      forwardFloat(dataOf<float>(x) + begin * cols, dataOf<float>(bias), reinterpret_cast<float*>(y.data_ptr()) + begin * cols,
                  end - begin, cols);
    } else {
      forwardBf16(dataOf<std::uint16_t>(x) + begin * cols, dataOf<std::uint16_t>(bias),
                  reinterpret_cast<std::uint16_t*>(y.data_ptr()) + begin * cols, end - begin, cols);
    }
  });
  return y;
}

std::pair<at::Tensor, at::Tensor> geluTanhBackward(const at::Tensor& grad_in, const at::Tensor& x_in,
                                                   const at::Tensor& bias_in) {
  checkInputs("geluTanhBackward", x_in, bias_in);
  if (!grad_in.sizes().equals(x_in.sizes()) || grad_in.scalar_type() != x_in.scalar_type()) {
    throw std::invalid_argument("geluTanhBackward: the gradient must have the input's shape and dtype");
  }
  const at::Tensor x = x_in.contiguous();
  const at::Tensor grad = grad_in.contiguous();
  const at::Tensor bias = bias_in.defined() ? bias_in.contiguous() : bias_in;
  at::Tensor grad_x = at::empty_like(x);
  const std::int64_t cols = x.size(-1);
  const std::int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  // One float row of bias gradient per thread, summed at the end in thread order (deterministic
  // for a given thread count).
  const int threads = at::get_num_threads();
  std::vector<std::vector<float>> partial(bias.defined() ? static_cast<std::size_t>(threads) : 0);
  at::parallel_for(0, rows, grainRows(cols), [&](std::int64_t begin, std::int64_t end) {
    float* bias_grad = nullptr;
    if (bias.defined()) {
      auto& mine = partial[static_cast<std::size_t>(at::get_thread_num())];
      mine.resize(static_cast<std::size_t>(cols), 0.0f);
      bias_grad = mine.data();
    }
    if (x.scalar_type() == at::kFloat) {
      backwardFloat(dataOf<float>(grad) + begin * cols, dataOf<float>(x) + begin * cols, dataOf<float>(bias),
                   reinterpret_cast<float*>(grad_x.data_ptr()) + begin * cols, bias_grad, end - begin, cols);
    } else {
      backwardBf16(dataOf<std::uint16_t>(grad) + begin * cols, dataOf<std::uint16_t>(x) + begin * cols,
                   dataOf<std::uint16_t>(bias), reinterpret_cast<std::uint16_t*>(grad_x.data_ptr()) + begin * cols,
                   bias_grad, end - begin, cols);
    }
  });
  at::Tensor grad_bias;
  if (bias.defined()) {
    at::Tensor sum = at::zeros({cols}, at::kFloat);
    float* total = sum.data_ptr<float>();
    for (const auto& rows_sum : partial) {
      for (std::size_t c = 0; c < rows_sum.size(); ++c) total[c] += rows_sum[c];
    }
    grad_bias = sum.to(bias.scalar_type());
  }
  return {grad_x, grad_bias};
}

}  // namespace behemoth
