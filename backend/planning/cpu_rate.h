// The CPU's achievable FLOP rate, measured: what the time model uses for cpu devices.
#pragma once

#include "backend/model/model_config.h"

namespace behemoth {

// FLOP/s of a square fp32 matmul of `size` on `threads` math threads, timed for about `seconds`
// after a warm-up (a roofline for the matmuls alone).
double measureCpuMatmulFlops(int threads = 1, int size = 256, double seconds = 0.3);

// FLOP/s (the model's forward + backward FLOPs per token, docs/planning.md) that one forward and
// backward of `micro_batch` sequences of the zoo model reaches on `threads` threads: includes the
// norms, softmax, elementwise work and dispatch overhead that the matmul rate leaves out.
// `concurrent` copies run at once (one per rank of a CPU job sharing this machine's cores) and the
// mean rate of one copy is returned, so core sharing is part of the measurement.
double measureModelFlopsRate(const ModelConfig& config, int micro_batch, int threads = 1, int concurrent = 1,
                             double seconds = 0.5);

}  // namespace behemoth
