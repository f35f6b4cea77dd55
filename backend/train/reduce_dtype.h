// The dtype gradients are reduced in over the data-parallel group (parallel.reduce_dtype).
#pragma once

#include <c10/core/ScalarType.h>

namespace behemoth {

struct Project;

// "auto": the working dtype (fp32 or bf16), and fp16 under fp16 precision; otherwise the named dtype.
c10::ScalarType gradientReduceDtype(const Project& project);

}  // namespace behemoth
