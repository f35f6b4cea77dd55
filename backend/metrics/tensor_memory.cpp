#include "backend/metrics/tensor_memory.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>

// LibTorch 2.3 made Allocator::allocate non-const and added the pure virtual copy_data.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define BEHEMOTH_ALLOCATE_CONST
#define BEHEMOTH_ALLOCATOR_HAS_COPY_DATA 1
#else
#define BEHEMOTH_ALLOCATE_CONST const
#define BEHEMOTH_ALLOCATOR_HAS_COPY_DATA 0
#endif

namespace behemoth::tensor_memory {
namespace {

std::atomic<std::int64_t> live_bytes{0};
std::atomic<std::int64_t> peak_bytes{0};
std::atomic<std::int64_t> allocation_count{0};

void raisePeak(std::int64_t candidate) {
  std::int64_t peak = peak_bytes.load(std::memory_order_relaxed);
  while (candidate > peak && !peak_bytes.compare_exchange_weak(peak, candidate, std::memory_order_relaxed)) {
  }
}

// What a counted DataPtr carries as its context: the wrapped allocator's DataPtr (which frees
// the memory its own way) and the size to uncount.
struct CountedBlock {
  c10::DataPtr inner;
  std::int64_t bytes;
};

void releaseCounted(void* context) {
  const auto* block = static_cast<CountedBlock*>(context);
  live_bytes.fetch_sub(block->bytes, std::memory_order_relaxed);
  delete block;  // frees the memory through the wrapped allocator's deleter
}

class CountingAllocator final : public c10::Allocator {
 public:
  explicit CountingAllocator(c10::Allocator* wrapped) : wrapped_(wrapped) {}

  c10::DataPtr allocate(size_t bytes) BEHEMOTH_ALLOCATE_CONST override {
    c10::DataPtr inner = wrapped_->allocate(bytes);
    void* data = inner.get();
    const c10::Device device = inner.device();
    auto block = std::make_unique<CountedBlock>(CountedBlock{std::move(inner), static_cast<std::int64_t>(bytes)});
    raisePeak(live_bytes.fetch_add(block->bytes, std::memory_order_relaxed) + block->bytes);
    allocation_count.fetch_add(1, std::memory_order_relaxed);
    return c10::DataPtr(data, block.release(), &releaseCounted, device);
  }

#if BEHEMOTH_ALLOCATOR_HAS_COPY_DATA
  void copy_data(void* dest, const void* src, std::size_t count) const override { std::memcpy(dest, src, count); }
#endif

 private:
  c10::Allocator* wrapped_;
};

// Above the default CPU allocator's registration priority (0), so it takes over.
constexpr std::uint8_t kCountingPriority = 100;

std::once_flag install_once;
std::atomic<bool> installed{false};

}  // namespace

void installCountingAllocator() {
  std::call_once(install_once, [] {
    // Lives for the whole process: storages counted by it may be freed at any time, even at exit.
    static CountingAllocator counting(c10::GetCPUAllocator());
    c10::SetCPUAllocator(&counting, kCountingPriority);
    installed.store(true);
  });
}

bool countingAllocatorInstalled() { return installed.load(); }

std::int64_t liveBytes() { return live_bytes.load(std::memory_order_relaxed); }

std::int64_t peakBytes() { return peak_bytes.load(std::memory_order_relaxed); }

std::int64_t allocationCount() { return allocation_count.load(std::memory_order_relaxed); }

void resetPeak() { peak_bytes.store(live_bytes.load(std::memory_order_relaxed), std::memory_order_relaxed); }

}  // namespace behemoth::tensor_memory
