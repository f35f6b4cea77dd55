#include "kernels/sum_of_squares.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdint>
#include <vector>

#include "kernels/vector_math.h"

namespace behemoth {
namespace {

template <typename T>
BEHEMOTH_INLINE double blockSum(const T* data, std::int64_t n) {
  double sum = 0.0;
#pragma omp simd reduction(+ : sum)
  for (std::int64_t i = 0; i < n; ++i) {
    const double x = vector_math::load(data, i);
    sum += x * x;
  }
  return sum;
}

BEHEMOTH_VECTOR_CLONES double blockSumFloat(const float* data, std::int64_t n) { return blockSum(data, n); }
BEHEMOTH_VECTOR_CLONES double blockSumBf16(const std::uint16_t* data, std::int64_t n) { return blockSum(data, n); }

constexpr std::int64_t kBlock = 1 << 16;

}  // namespace

double sumOfSquares(const at::Tensor& t) {
  const bool single_pass = t.device().is_cpu() && (t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16);
  if (!single_pass) return t.to(at::kDouble).pow(2).sum().item<double>();
  const at::Tensor data = t.contiguous();
  const std::int64_t n = data.numel();
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<std::size_t>(blocks), 0.0);
  const bool bf16 = data.scalar_type() == at::kBFloat16;
  at::parallel_for(0, blocks, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t b = begin; b < end; ++b) {
      const std::int64_t first = b * kBlock;
      const std::int64_t count = std::min(kBlock, n - first);
      partial[static_cast<std::size_t>(b)] =
          bf16 ? blockSumBf16(reinterpret_cast<const std::uint16_t*>(data.data_ptr()) + first, count)
               : blockSumFloat(data.data_ptr<float>() + first, count);
    }
  });
  double total = 0.0;
  for (const double p : partial) total += p;
  return total;
}

}  // namespace behemoth
