#include "kernels/fused_rotary.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/vector_math.h"

namespace behemoth {
namespace {

using vector_math::load;
using vector_math::store;

// One row of D = 2 * half values. Forward: [x1 c1 - x2 s1, x2 c2 + x1 s2]; the transpose (backward):
// [g1 c1 + g2 s2, g2 c2 - g1 s1]. Iteration i touches only elements i and i + half, read before
// written, so `out` may be `in`.
template <bool kTranspose, typename T>
BEHEMOTH_INLINE void rotateRow(const T* in, const T* cos, const T* sin, T* out, std::int64_t half) {
#pragma omp simd
  for (std::int64_t i = 0; i < half; ++i) {
    const float first = load(in, i);
    const float second = load(in, i + half);
    const float c1 = load(cos, i), c2 = load(cos, i + half);
    const float s1 = load(sin, i), s2 = load(sin, i + half);
    if constexpr (kTranspose) {
      store(out, i, first * c1 + second * s2);
      store(out, i + half, second * c2 - first * s1);
    } else {
      store(out, i, first * c1 - second * s1);
      store(out, i + half, second * c2 + first * s2);
    }
  }
}

BEHEMOTH_VECTOR_CLONES void forwardFloat(const float* in, const float* c, const float* s, float* out, std::int64_t half) {
  rotateRow<false>(in, c, s, out, half);
}
BEHEMOTH_VECTOR_CLONES void transposeFloat(const float* in, const float* c, const float* s, float* out, std::int64_t half) {
  rotateRow<true>(in, c, s, out, half);
}
using Bits = std::uint16_t;
BEHEMOTH_VECTOR_CLONES void forwardBf16(const Bits* in, const Bits* c, const Bits* s, Bits* out, std::int64_t half) {
  rotateRow<false>(in, c, s, out, half);
}
BEHEMOTH_VECTOR_CLONES void transposeBf16(const Bits* in, const Bits* c, const Bits* s, Bits* out, std::int64_t half) {
  rotateRow<true>(in, c, s, out, half);
}

void check(const char* what, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  if (!x.device().is_cpu() || (x.scalar_type() != at::kFloat && x.scalar_type() != at::kBFloat16)) {
    throw std::invalid_argument(std::string(what) + ": expected an fp32 or bf16 CPU tensor, got " +
                                std::string(c10::toString(x.scalar_type())));
  }
  if (x.dim() != 4 || x.size(3) % 2 != 0 || x.stride(3) != 1) {
    throw std::invalid_argument(std::string(what) + ": x must be [B, H, T, D] with D even and dense");
  }
  for (const at::Tensor* table : {&cos, &sin}) {
    if (table->dim() != 2 || table->size(0) != x.size(2) || table->size(1) != x.size(3) ||
        table->scalar_type() != x.scalar_type()) {
      throw std::invalid_argument(std::string(what) + ": cos and sin must be [T, D] of x's dtype");
    }
  }
}

// Rotates every row (b, h, t) of `in` into `out` (the same shape; strides of each their own).
template <bool kTranspose>
void rotateRows(const at::Tensor& in, const at::Tensor& cos_in, const at::Tensor& sin_in, const at::Tensor& out) {
  const at::Tensor cos = cos_in.contiguous();
  const at::Tensor sin = sin_in.contiguous();
  const std::int64_t heads = in.size(1), length = in.size(2), dim = in.size(3), half = dim / 2;
  const std::int64_t rows = in.size(0) * heads * length;
  const std::int64_t element = in.element_size();
  const auto* in_base = static_cast<const char*>(in.data_ptr());
  auto* out_base = static_cast<char*>(out.data_ptr());
  const auto* cos_base = static_cast<const char*>(cos.data_ptr());
  const auto* sin_base = static_cast<const char*>(sin.data_ptr());
  const bool bf16 = in.scalar_type() == at::kBFloat16;
  at::parallel_for(0, rows, std::max<std::int64_t>(1, 32768 / dim), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t row = begin; row < end; ++row) {
      const std::int64_t t = row % length, h = (row / length) % heads, b = row / (length * heads);
      const auto offset = [&](const at::Tensor& x) { return (b * x.stride(0) + h * x.stride(1) + t * x.stride(2)) * element; };
      const char* source = in_base + offset(in);
      char* target = out_base + offset(out);
      const char* c = cos_base + t * dim * element;
      const char* s = sin_base + t * dim * element;
      if (bf16) {
        const auto rotate = kTranspose ? transposeBf16 : forwardBf16;
        rotate(reinterpret_cast<const Bits*>(source), reinterpret_cast<const Bits*>(c), reinterpret_cast<const Bits*>(s),
               reinterpret_cast<Bits*>(target), half);
      } else {
        const auto rotate = kTranspose ? transposeFloat : forwardFloat;
        rotate(reinterpret_cast<const float*>(source), reinterpret_cast<const float*>(c), reinterpret_cast<const float*>(s),
               reinterpret_cast<float*>(target), half);
      }
    }
  });
}

}  // namespace

at::Tensor rotaryForward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  check("rotaryForward", x, cos, sin);
  at::Tensor out = at::empty(x.sizes(), x.options());
  rotateRows<false>(x, cos, sin, out);
  return out;
}

at::Tensor rotaryBackward(const at::Tensor& grad_output, const at::Tensor& cos, const at::Tensor& sin) {
  const at::Tensor grad = grad_output.stride(-1) == 1 ? grad_output : grad_output.contiguous();
  check("rotaryBackward", grad, cos, sin);
  at::Tensor out = at::empty(grad.sizes(), grad.options());
  rotateRows<true>(grad, cos, sin, out);
  return out;
}

void rotaryInPlace(at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  check("rotaryInPlace", x, cos, sin);
  rotateRows<false>(x, cos, sin, x);
}

}  // namespace behemoth
