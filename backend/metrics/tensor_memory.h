// Exact tensor memory of a process: a CPU allocator that wraps LibTorch's and counts the bytes of
// every live tensor storage, so activation memory is measured exactly instead of read off RSS
// (which the C library's caching and page reuse blur).
//
// Opt-in (project key train.measure_memory): installing it puts two atomic updates and a small
// heap record on every CPU allocation. Storages allocated before installation are not counted,
// neither when allocated nor when freed. Thread-safe: intra-op worker threads allocate too.
#pragma once

#include <cstdint>

namespace behemoth::tensor_memory {

// Makes the counting allocator LibTorch's CPU allocator (wrapping the one in place). Idempotent.
void installCountingAllocator();
bool countingAllocatorInstalled();

// Bytes of the CPU tensor storages allocated since installation and still alive (0 before).
std::int64_t liveBytes();
// The highest liveBytes() since installation or the last resetPeak().
std::int64_t peakBytes();
// Starts a new peak window at the current live bytes.
void resetPeak();

// Tensor storages allocated since installation (0 before), freed or not: a step's allocations are
// the difference across it (tests/backend/step_allocations_test.cpp, docs/kernels.md).
std::int64_t allocationCount();

}  // namespace behemoth::tensor_memory
