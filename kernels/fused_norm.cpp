#include "kernels/fused_norm.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/vector_math.h"

namespace behemoth {
namespace {

using vector_math::load;
using vector_math::store;

// What one range of rows reads and writes; weight and bias already float.
template <typename T>
struct ForwardRows {
  const T* x;
  const T* residual;  // may be null
  const float* weight;
  const float* bias;  // may be null
  T* sum;
  T* output;
  float* mean;  // null for RMSNorm (its mean is 0)
  float* rstd;
  float* scratch;  // one float row: the sum in float before it is rounded
};

// The optional inputs are template arguments, so that the inner loops have no branch.
template <bool kResidual, bool kBias, typename T>
BEHEMOTH_INLINE void normForwardRows(bool layer_norm, const ForwardRows<T>& a, float eps, std::int64_t rows,
                                     std::int64_t cols) {
  float* __restrict h = a.scratch;
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t o = r * cols;
    float total = 0.0f;
#pragma omp simd reduction(+ : total)
    for (std::int64_t c = 0; c < cols; ++c) {
      // The norm reads the sum as it is stored (rounded, in bf16), as the unfused add would.
      float value = kResidual ? load(a.x, o + c) + load(a.residual, o + c) : load(a.x, o + c);
      if (kResidual) {
        store(a.sum, o + c, value);
        value = load(a.sum, o + c);
      }
      h[c] = value;
      total += value;
    }
    const float mu = layer_norm ? total / static_cast<float>(cols) : 0.0f;
    float squares = 0.0f;
#pragma omp simd reduction(+ : squares)
    for (std::int64_t c = 0; c < cols; ++c) squares += (h[c] - mu) * (h[c] - mu);
    const float inverse = 1.0f / std::sqrt(squares / static_cast<float>(cols) + eps);
    if (a.mean) a.mean[r] = mu;
    a.rstd[r] = inverse;
#pragma omp simd
    for (std::int64_t c = 0; c < cols; ++c) {
      const float normalized = (h[c] - mu) * inverse;
      store(a.output, o + c, kBias ? normalized * a.weight[c] + a.bias[c] : normalized * a.weight[c]);
    }
  }
}

template <typename T>
struct BackwardRows {
  const T* grad_output;
  const T* grad_sum;  // may be null
  const T* sum;
  const float* mean;  // null for RMSNorm
  const float* rstd;
  const float* weight;
  T* grad_input;
  float* weight_grad;  // this thread's partial sums, one row
  float* bias_grad;    // may be null
};

// With n = (h - mu) * rstd and g = grad_output * weight:
//   d/dh = rstd * (g - mean(g) - n * mean(g * n))   (LayerNorm)
//   d/dh = rstd * (g - n * mean(g * n))             (RMSNorm: mu = 0, no mean(g) term)
template <bool kDirect, bool kBias, typename T>
BEHEMOTH_INLINE void normBackwardRows(bool layer_norm, const BackwardRows<T>& a, std::int64_t rows, std::int64_t cols) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t o = r * cols;
    const float mu = a.mean ? a.mean[r] : 0.0f;
    const float inverse = a.rstd[r];
    float sum_g = 0.0f;
    float sum_gn = 0.0f;
#pragma omp simd reduction(+ : sum_g, sum_gn)
    for (std::int64_t c = 0; c < cols; ++c) {
      const float dy = load(a.grad_output, o + c);
      const float n = (load(a.sum, o + c) - mu) * inverse;
      const float g = dy * a.weight[c];
      sum_g += g;
      sum_gn += g * n;
      a.weight_grad[c] += dy * n;
      if (kBias) a.bias_grad[c] += dy;
    }
    const float mean_g = layer_norm ? sum_g / static_cast<float>(cols) : 0.0f;
    const float mean_gn = sum_gn / static_cast<float>(cols);
#pragma omp simd
    for (std::int64_t c = 0; c < cols; ++c) {
      const float n = (load(a.sum, o + c) - mu) * inverse;
      const float g = load(a.grad_output, o + c) * a.weight[c];
      const float from_norm = inverse * (g - mean_g - n * mean_gn);
      store(a.grad_input, o + c, kDirect ? from_norm + load(a.grad_sum, o + c) : from_norm);
    }
  }
}

template <typename T>
BEHEMOTH_INLINE void forwardAny(bool ln, const ForwardRows<T>& a, float eps, std::int64_t rows, std::int64_t cols) {
  if (a.residual) {
    a.bias ? normForwardRows<true, true>(ln, a, eps, rows, cols) : normForwardRows<true, false>(ln, a, eps, rows, cols);
  } else {
    a.bias ? normForwardRows<false, true>(ln, a, eps, rows, cols) : normForwardRows<false, false>(ln, a, eps, rows, cols);
  }
}

template <typename T>
BEHEMOTH_INLINE void backwardAny(bool ln, const BackwardRows<T>& a, std::int64_t rows, std::int64_t cols) {
  if (a.grad_sum) {
    a.bias_grad ? normBackwardRows<true, true>(ln, a, rows, cols) : normBackwardRows<true, false>(ln, a, rows, cols);
  } else {
    a.bias_grad ? normBackwardRows<false, true>(ln, a, rows, cols) : normBackwardRows<false, false>(ln, a, rows, cols);
  }
}

BEHEMOTH_VECTOR_CLONES void forwardFloat(bool ln, const ForwardRows<float>& a, float eps, std::int64_t rows, std::int64_t cols) {
  forwardAny(ln, a, eps, rows, cols);
}
// bf16 a row at a time through float rows (vector_math::widen / narrow), so that every loop is
// either a pure conversion or the float kernel's: GCC vectorizes the mixed loops 2-3x worse.
// `a.scratch` holds kBf16ScratchRows rows. The sum is rounded to bf16 and read back before it is
// normalized, as the unfused add would store it.
constexpr std::int64_t kBf16ScratchRows = 4;

BEHEMOTH_VECTOR_CLONES void forwardBf16(bool ln, const ForwardRows<std::uint16_t>& a, float eps, std::int64_t rows,
                                        std::int64_t cols) {
  float* x = a.scratch;
  float* residual = x + cols;
  float* output = residual + cols;
  float* h = output + cols;
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t o = r * cols;
    vector_math::widen(a.x + o, x, cols);
    if (a.residual) {
      vector_math::widen(a.residual + o, residual, cols);
#pragma omp simd
      for (std::int64_t c = 0; c < cols; ++c) x[c] += residual[c];
      vector_math::narrow(x, a.sum + o, cols);
      vector_math::widen(a.sum + o, x, cols);
    }
    const ForwardRows<float> row{x, nullptr, a.weight, a.bias, nullptr, output, a.mean ? a.mean + r : nullptr, a.rstd + r, h};
    forwardAny(ln, row, eps, 1, cols);
    vector_math::narrow(output, a.output + o, cols);
  }
}
BEHEMOTH_VECTOR_CLONES void backwardFloat(bool ln, const BackwardRows<float>& a, std::int64_t rows, std::int64_t cols) {
  backwardAny(ln, a, rows, cols);
}
// bf16 a row at a time through float rows, as forwardBf16; `scratch` holds kBf16ScratchRows rows.
BEHEMOTH_VECTOR_CLONES void backwardBf16(bool ln, const BackwardRows<std::uint16_t>& a, float* scratch, std::int64_t rows,
                                         std::int64_t cols) {
  float* grad_output = scratch;
  float* grad_sum = grad_output + cols;
  float* sum = grad_sum + cols;
  float* grad_input = sum + cols;
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t o = r * cols;
    vector_math::widen(a.grad_output + o, grad_output, cols);
    if (a.grad_sum) vector_math::widen(a.grad_sum + o, grad_sum, cols);
    vector_math::widen(a.sum + o, sum, cols);
    const BackwardRows<float> row{grad_output, a.grad_sum ? grad_sum : nullptr, sum, a.mean ? a.mean + r : nullptr,
                                  a.rstd + r, a.weight, grad_input, a.weight_grad, a.bias_grad};
    backwardAny(ln, row, 1, cols);
    vector_math::narrow(grad_input, a.grad_input + o, cols);
  }
}

void check(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument("fusedNorm: " + message);
}

template <typename T>
T* raw(const at::Tensor& t) {
  return t.defined() ? reinterpret_cast<T*>(t.data_ptr()) : nullptr;
}

// Row `begin`'s mean, or null where there is none (RMSNorm).
float* meanAt(const at::Tensor& mean, std::int64_t begin) { return mean.defined() ? raw<float>(mean) + begin : nullptr; }

at::Tensor floatCopy(const at::Tensor& t) { return t.defined() ? t.to(at::kFloat).contiguous() : t; }

std::int64_t grainRows(std::int64_t cols) { return std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(cols, 1)); }

}  // namespace

NormForward fusedNormForward(NormKind kind, const at::Tensor& x_in, const at::Tensor& residual_in, const at::Tensor& weight,
                             const at::Tensor& bias, double eps) {
  check(x_in.device().is_cpu() && (x_in.scalar_type() == at::kFloat || x_in.scalar_type() == at::kBFloat16),
        "expected an fp32 or bf16 CPU input, got " + std::string(c10::toString(x_in.scalar_type())));
  check(x_in.dim() >= 1 && x_in.size(-1) > 0, "the input needs a non-empty last dimension");
  const std::int64_t cols = x_in.size(-1);
  check(weight.defined() && weight.dim() == 1 && weight.size(0) == cols, "weight must be [" + std::to_string(cols) + "]");
  check(!bias.defined() || (kind == NormKind::layer_norm && bias.dim() == 1 && bias.size(0) == cols),
        "bias must be [" + std::to_string(cols) + "] and only for LayerNorm");
  check(!residual_in.defined() || (residual_in.sizes().equals(x_in.sizes()) && residual_in.scalar_type() == x_in.scalar_type()),
        "the residual must have the input's shape and dtype");
  const at::Tensor x = x_in.contiguous();
  const at::Tensor residual = residual_in.defined() ? residual_in.contiguous() : residual_in;
  const at::Tensor w = floatCopy(weight);
  const at::Tensor b = floatCopy(bias);
  const std::int64_t rows = x.numel() / cols;
  NormForward result;
  result.sum = residual.defined() ? at::empty_like(x) : x;
  result.output = at::empty_like(x);
  if (kind == NormKind::layer_norm) result.mean = at::empty({rows}, x.options().dtype(at::kFloat));
  result.rstd = at::empty({rows}, x.options().dtype(at::kFloat));
  const bool ln = kind == NormKind::layer_norm;
  at::parallel_for(0, rows, grainRows(cols), [&](std::int64_t begin, std::int64_t end) {
    const bool bf16 = x.scalar_type() == at::kBFloat16;
    std::vector<float> scratch(static_cast<std::size_t>(cols * (bf16 ? kBf16ScratchRows : 1)));
    const std::int64_t o = begin * cols;
    if (!bf16) {
      const ForwardRows<float> a{raw<float>(x) + o, residual.defined() ? raw<float>(residual) + o : nullptr, raw<float>(w),
                                 raw<float>(b), raw<float>(result.sum) + o, raw<float>(result.output) + o,
                                 meanAt(result.mean, begin), raw<float>(result.rstd) + begin, scratch.data()};
      forwardFloat(ln, a, static_cast<float>(eps), end - begin, cols);
    } else {
      using U = std::uint16_t;
      const ForwardRows<U> a{raw<U>(x) + o, residual.defined() ? raw<U>(residual) + o : nullptr, raw<float>(w), raw<float>(b),
                             raw<U>(result.sum) + o, raw<U>(result.output) + o, meanAt(result.mean, begin),
                             raw<float>(result.rstd) + begin, scratch.data()};
      forwardBf16(ln, a, static_cast<float>(eps), end - begin, cols);
    }
  });
  return result;
}

NormGradients fusedNormBackward(NormKind kind, const at::Tensor& grad_output_in, const at::Tensor& grad_sum_in,
                                const NormForward& saved, const at::Tensor& weight, const at::Tensor& bias) {
  const at::Tensor& sum = saved.sum;
  check(grad_output_in.sizes().equals(sum.sizes()) && grad_output_in.scalar_type() == sum.scalar_type(),
        "the output gradient must have the input's shape and dtype");
  check(!grad_sum_in.defined() || (grad_sum_in.sizes().equals(sum.sizes()) && grad_sum_in.scalar_type() == sum.scalar_type()),
        "the sum's gradient must have the input's shape and dtype");
  const at::Tensor grad_output = grad_output_in.contiguous();
  const at::Tensor grad_sum = grad_sum_in.defined() ? grad_sum_in.contiguous() : grad_sum_in;
  const std::int64_t cols = sum.size(-1);
  const std::int64_t rows = sum.numel() / cols;
  const at::Tensor w = floatCopy(weight);
  at::Tensor grad_input = at::empty_like(sum);
  const int threads = at::get_num_threads();
  // Per thread, a row of weight (and bias) gradient sums, added up in thread order at the end.
  std::vector<std::vector<float>> weight_parts(static_cast<std::size_t>(threads));
  std::vector<std::vector<float>> bias_parts(bias.defined() ? static_cast<std::size_t>(threads) : 0);
  const bool ln = kind == NormKind::layer_norm;
  at::parallel_for(0, rows, grainRows(cols), [&](std::int64_t begin, std::int64_t end) {
    const auto me = static_cast<std::size_t>(at::get_thread_num());
    weight_parts[me].resize(static_cast<std::size_t>(cols), 0.0f);
    float* bias_grad = nullptr;
    if (bias.defined()) {
      bias_parts[me].resize(static_cast<std::size_t>(cols), 0.0f);
      bias_grad = bias_parts[me].data();
    }
    const std::int64_t o = begin * cols;
    if (sum.scalar_type() == at::kFloat) {
      const BackwardRows<float> a{raw<float>(grad_output) + o, grad_sum.defined() ? raw<float>(grad_sum) + o : nullptr,
                                  raw<float>(sum) + o, meanAt(saved.mean, begin), raw<float>(saved.rstd) + begin,
                                  raw<float>(w), raw<float>(grad_input) + o, weight_parts[me].data(), bias_grad};
      backwardFloat(ln, a, end - begin, cols);
    } else {
      using U = std::uint16_t;
      const BackwardRows<U> a{raw<U>(grad_output) + o, grad_sum.defined() ? raw<U>(grad_sum) + o : nullptr, raw<U>(sum) + o,
                              meanAt(saved.mean, begin), raw<float>(saved.rstd) + begin, raw<float>(w),
                              raw<U>(grad_input) + o, weight_parts[me].data(), bias_grad};
      std::vector<float> scratch(static_cast<std::size_t>(cols * kBf16ScratchRows));
      backwardBf16(ln, a, scratch.data(), end - begin, cols);
    }
  });
  const auto total = [cols](const std::vector<std::vector<float>>& parts, const at::Tensor& like) {
    at::Tensor result = at::zeros({cols}, at::kFloat);
    float* out = result.data_ptr<float>();
    for (const auto& part : parts) {
      for (std::size_t c = 0; c < part.size(); ++c) out[c] += part[c];
    }
    return result.to(like.scalar_type());
  };
  NormGradients gradients;
  gradients.sum = grad_input;
  gradients.weight = total(weight_parts, weight);
  if (bias.defined()) gradients.bias = total(bias_parts, bias);
  return gradients;
}

}  // namespace behemoth
