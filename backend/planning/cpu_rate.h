// The CPU's peak FLOP rate for planning: a measured matmul roofline. Planning never builds or runs
// the project's model (a 175B plan must answer at once on any machine); it measures the rate BLAS
// reaches on one square matmul and applies the achievable fraction a zoo model's step reaches of
// it (kCpuModelEfficiency, calibrated in docs/planning.md).
#pragma once

#include <c10/core/ScalarType.h>

namespace behemoth {

// FLOP/s of a square `size` matmul in `dtype` (fp32 or bf16) on `threads` math threads, timed for
// about `seconds` after a warm-up. Allocates three size x size matrices and nothing else.
double measureCpuMatmulFlops(int threads = 1, int size = 512, double seconds = 0.2,
                             c10::ScalarType dtype = c10::kFloat);

// The fraction of the matmul roofline that a zoo model's forward + backward reaches on this
// project's CPUs: norms, softmax, elementwise kernels and dispatch run below the matmul rate.
inline constexpr double kCpuModelEfficiency = 0.5;

}  // namespace behemoth
