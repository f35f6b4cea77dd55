// The c10d class every process-group backend (gloo, NCCL) derives from. LibTorch 1.x calls it
// ProcessGroup; 2.x splits a Backend out of ProcessGroup and the backends derive from Backend.
#pragma once

#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif
#include <torch/csrc/distributed/c10d/Work.hpp>

namespace behemoth {

#if TORCH_VERSION_MAJOR >= 2
using C10dBackend = c10d::Backend;
#else
using C10dBackend = c10d::ProcessGroup;
#endif

}  // namespace behemoth
