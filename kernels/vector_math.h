// Scalar float helpers written so that GCC vectorizes the loops that call them (no library calls,
// no branches): exp on a Cody-Waite reduction with a degree-7 polynomial (about one ulp), and
// bf16 <-> float conversion with round-to-nearest-even, as c10::BFloat16 does. Only for the kernel files (they are compiled with -O3 -fno-math-errno).
#pragma once

#include <cstdint>
#include <cstring>

// A function compiled for AVX-512, AVX2 and plain x86-64, the best chosen when the program loads
// (GCC's target_clones): the kernels vectorize wide where the CPU can, and still run where not.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define BEHEMOTH_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define BEHEMOTH_VECTOR_CLONES
#endif
#define BEHEMOTH_INLINE inline __attribute__((always_inline))

namespace behemoth::vector_math {

BEHEMOTH_INLINE float bitsToFloat(std::uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

BEHEMOTH_INLINE std::uint32_t floatToBits(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

// e^x for every float x: relative error about 1e-7; below -87.3 it is e^-87.3 (1.2e-38), above 88.3 inf.
BEHEMOTH_INLINE float exp(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
  // x = n ln2 + r, |r| <= ln2 / 2; ln2 split in two so that n * ln2_hi is exact.
  const float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  // e^r on [-ln2/2, ln2/2]: the Taylor terms to r^7 (the next one is below 5e-9).
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // 2^n by building the exponent field; n + 127 stays in [1, 254] for the clamped x, except at
  // the bottom where n = -126 still gives a normal scale.
  const auto biased = static_cast<std::int32_t>(n) + 127;
  return p * bitsToFloat(static_cast<std::uint32_t>(biased) << 23);
}

BEHEMOTH_INLINE float bf16ToFloat(std::uint16_t bits) { return bitsToFloat(static_cast<std::uint32_t>(bits) << 16); }

// Round to nearest, ties to even; a NaN stays a (quiet) NaN.
BEHEMOTH_INLINE std::uint16_t floatToBf16(float value) {
  const std::uint32_t bits = floatToBits(value);
  const std::uint32_t rounding = 0x7fff + ((bits >> 16) & 1u);
  const auto rounded = static_cast<std::uint16_t>((bits + rounding) >> 16);
  return value != value ? std::uint16_t{0x7fc0} : rounded;
}

// Element i of a float or bf16 (stored as its bits) array, as float; and back, rounded once.
BEHEMOTH_INLINE float load(const float* p, std::int64_t i) { return p[i]; }
BEHEMOTH_INLINE float load(const std::uint16_t* p, std::int64_t i) { return bf16ToFloat(p[i]); }
BEHEMOTH_INLINE void store(float* p, std::int64_t i, float v) { p[i] = v; }
BEHEMOTH_INLINE void store(std::uint16_t* p, std::int64_t i, float v) { p[i] = floatToBf16(v); }

// bf16 loops run fastest as float loops over small blocks widened on the stack: GCC 12 vectorizes a
// pure conversion loop and a pure float loop well, and one loop that mixes them about 2-3x slower
// (BENCHMARKS.md, the bf16 rows). kStage floats per operand stay in L1.
constexpr std::int64_t kStage = 256;

BEHEMOTH_INLINE void widen(const std::uint16_t* __restrict in, float* __restrict out, std::int64_t n) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) out[i] = bf16ToFloat(in[i]);
}

BEHEMOTH_INLINE void narrow(const float* __restrict in, std::uint16_t* __restrict out, std::int64_t n) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) out[i] = floatToBf16(in[i]);
}

}  // namespace behemoth::vector_math
