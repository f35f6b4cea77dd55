#include "kernels/fused_cross_entropy.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/vector_math.h"

namespace behemoth {
namespace {

using vector_math::load;
using vector_math::store;

// log sum_j e^(x_j) of one row, shifted by its maximum so that no e^ overflows.
template <typename T>
BEHEMOTH_INLINE float rowLogSumExp(const T* row, std::int64_t vocab) {
  float largest = load(row, 0);
#pragma omp simd reduction(max : largest)
  for (std::int64_t j = 0; j < vocab; ++j) {
    const float x = load(row, j);
    largest = x > largest ? x : largest;
  }
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (std::int64_t j = 0; j < vocab; ++j) sum += vector_math::exp(load(row, j) - largest);
  return largest + std::log(sum);
}

// (e^(x_j - lse) - [j == target]) * scale for one row.
template <typename T>
BEHEMOTH_INLINE void rowGradient(const T* row, float lse, std::int64_t target, float scale, T* out, std::int64_t vocab) {
#pragma omp simd
  for (std::int64_t j = 0; j < vocab; ++j) {
    const float hot = j == target ? 1.0f : 0.0f;
    store(out, j, (vector_math::exp(load(row, j) - lse) - hot) * scale);
  }
}

BEHEMOTH_VECTOR_CLONES float logSumExpFloat(const float* row, std::int64_t vocab) { return rowLogSumExp(row, vocab); }
BEHEMOTH_VECTOR_CLONES void gradientFloat(const float* row, float lse, std::int64_t target, float scale, float* out,
                                          std::int64_t vocab) {
  rowGradient(row, lse, target, scale, out, vocab);
}

// bf16 through float blocks on the stack (vector_math::kStage): the same float loops, the row
// widened twice (for its maximum, then for the sum) rather than kept.
using vector_math::kStage;
using vector_math::narrow;
using vector_math::widen;

BEHEMOTH_VECTOR_CLONES float logSumExpBf16(const std::uint16_t* row, std::int64_t vocab) {
  alignas(64) float x[kStage];
  float largest = vector_math::bf16ToFloat(row[0]);
  for (std::int64_t first = 0; first < vocab; first += kStage) {
    const std::int64_t m = std::min(kStage, vocab - first);
    widen(row + first, x, m);
#pragma omp simd reduction(max : largest)
    for (std::int64_t j = 0; j < m; ++j) largest = x[j] > largest ? x[j] : largest;
  }
  float sum = 0.0f;
  for (std::int64_t first = 0; first < vocab; first += kStage) {
    const std::int64_t m = std::min(kStage, vocab - first);
    widen(row + first, x, m);
#pragma omp simd reduction(+ : sum)
    for (std::int64_t j = 0; j < m; ++j) sum += vector_math::exp(x[j] - largest);
  }
  return largest + std::log(sum);
}
BEHEMOTH_VECTOR_CLONES void gradientBf16(const std::uint16_t* row, float lse, std::int64_t target, float scale,
                                         std::uint16_t* out, std::int64_t vocab) {
  alignas(64) float x[kStage], y[kStage];
  for (std::int64_t first = 0; first < vocab; first += kStage) {
    const std::int64_t m = std::min(kStage, vocab - first);
    widen(row + first, x, m);
    rowGradient(x, lse, target - first, scale, y, m);
    narrow(y, out + first, m);
  }
}

void checkLogits(const char* what, const at::Tensor& logits, const at::Tensor& targets) {
  if (!logits.device().is_cpu() || (logits.scalar_type() != at::kFloat && logits.scalar_type() != at::kBFloat16)) {
    throw std::invalid_argument(std::string(what) + ": expected fp32 or bf16 CPU logits, got " +
                                std::string(c10::toString(logits.scalar_type())));
  }
  if (logits.dim() != 2 || logits.size(1) < 1 || targets.dim() != 1 || targets.size(0) != logits.size(0) ||
      targets.scalar_type() != at::kLong) {
    throw std::invalid_argument(std::string(what) + ": logits must be [N, V] and targets int64 [N]");
  }
}

template <typename T>
const T* rowOf(const at::Tensor& t, std::int64_t row) {
  return reinterpret_cast<const T*>(t.data_ptr()) + row * t.size(1);
}

// Rows per task: about 64K logits each.
std::int64_t rowGrain(std::int64_t vocab) { return std::max<std::int64_t>(1, 65536 / vocab); }

}  // namespace

CrossEntropyForward softmaxCrossEntropyForward(const at::Tensor& logits_in, const at::Tensor& targets_in) {
  checkLogits("softmaxCrossEntropyForward", logits_in, targets_in);
  const at::Tensor logits = logits_in.contiguous();
  const at::Tensor targets = targets_in.contiguous();
  const std::int64_t rows = logits.size(0);
  const std::int64_t vocab = logits.size(1);
  const bool bf16 = logits.scalar_type() == at::kBFloat16;
  const auto* target = targets.data_ptr<std::int64_t>();
  at::Tensor logsumexp = at::empty({rows}, logits.options().dtype(at::kFloat));
  float* lse = logsumexp.data_ptr<float>();
  std::vector<double> row_loss(static_cast<std::size_t>(rows), 0.0);
  std::atomic<std::int64_t> bad_row{-1};
  at::parallel_for(0, rows, rowGrain(vocab), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t r = begin; r < end; ++r) {
      lse[r] = bf16 ? logSumExpBf16(rowOf<std::uint16_t>(logits, r), vocab) : logSumExpFloat(rowOf<float>(logits, r), vocab);
      const std::int64_t t = target[r];
      if (t == kIgnoreTarget) continue;
      if (t < 0 || t >= vocab) {
        bad_row.store(r);
        continue;
      }
      const float picked = bf16 ? vector_math::bf16ToFloat(rowOf<std::uint16_t>(logits, r)[t]) : rowOf<float>(logits, r)[t];
      row_loss[static_cast<std::size_t>(r)] = static_cast<double>(lse[r]) - static_cast<double>(picked);
    }
  });
  if (const std::int64_t r = bad_row.load(); r >= 0) {
    throw std::invalid_argument("softmax cross-entropy: target " + std::to_string(target[r]) + " of row " + std::to_string(r) +
                                " is outside the vocabulary 0.." + std::to_string(vocab - 1));
  }
  CrossEntropyForward result;
  double total = 0.0;
  for (std::int64_t r = 0; r < rows; ++r) {
    if (target[r] == kIgnoreTarget) continue;
    total += row_loss[static_cast<std::size_t>(r)];
    ++result.counted;
  }
  // No counted row: NaN, as torch's mean over nothing.
  const double mean = result.counted > 0 ? total / static_cast<double>(result.counted) : std::nan("");
  result.loss = at::scalar_tensor(mean, logits.options().dtype(at::kFloat)).to(logits.scalar_type());
  result.logsumexp = logsumexp;
  return result;
}

at::Tensor softmaxCrossEntropyBackward(const at::Tensor& grad_loss, const at::Tensor& logits_in, const at::Tensor& targets_in,
                                       const at::Tensor& logsumexp, std::int64_t counted) {
  checkLogits("softmaxCrossEntropyBackward", logits_in, targets_in);
  if (logsumexp.scalar_type() != at::kFloat || logsumexp.dim() != 1 || logsumexp.size(0) != logits_in.size(0)) {
    throw std::invalid_argument("softmaxCrossEntropyBackward: logsumexp must be float [N] from the forward");
  }
  const at::Tensor logits = logits_in.contiguous();
  const at::Tensor targets = targets_in.contiguous();
  const std::int64_t rows = logits.size(0);
  const std::int64_t vocab = logits.size(1);
  const bool bf16 = logits.scalar_type() == at::kBFloat16;
  const float scale = counted > 0 ? grad_loss.item<float>() / static_cast<float>(counted) : 0.0f;
  const auto* target = targets.data_ptr<std::int64_t>();
  const float* lse = logsumexp.data_ptr<float>();
  at::Tensor grad = at::empty_like(logits);
  at::parallel_for(0, rows, rowGrain(vocab), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t r = begin; r < end; ++r) {
      auto* out = static_cast<char*>(grad.data_ptr()) + r * vocab * grad.element_size();
      if (target[r] == kIgnoreTarget) {
        std::memset(out, 0, static_cast<std::size_t>(vocab * grad.element_size()));  // 0.0 in fp32 and bf16
      } else if (bf16) {
        gradientBf16(rowOf<std::uint16_t>(logits, r), lse[r], target[r], scale, reinterpret_cast<std::uint16_t*>(out), vocab);
      } else {
        gradientFloat(rowOf<float>(logits, r), lse[r], target[r], scale, reinterpret_cast<float*>(out), vocab);
      }
    }
  });
  return grad;
}

}  // namespace behemoth
