#include "memory/device_tier.h"

#include <ATen/ATen.h>
#include <stdlib.h>

#include <cstdlib>
#include <new>

namespace behemoth {

struct DeviceTier::Counters {
  std::atomic<std::int64_t> live{0};
  std::atomic<std::int64_t> peak{0};
  void add(std::int64_t bytes) {
    const std::int64_t now = live.fetch_add(bytes) + bytes;
    std::int64_t seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
  }
};

namespace {

// What a DataPtr's deleter needs: the block, its size, and the counters to give the bytes back to
// (shared, so a tensor outliving the tier still frees safely).
struct Block {
  void* data = nullptr;
  std::int64_t bytes = 0;
  std::shared_ptr<DeviceTier::Counters> counters;
};

}  // namespace

class DeviceTier::Allocator final : public c10::Allocator {
 public:
  explicit Allocator(std::shared_ptr<Counters> counters) : counters_(std::move(counters)) {}

  c10::DataPtr allocate(std::size_t bytes) const override {
    const c10::Device device(c10::DeviceType::CPU);
    if (bytes == 0) return {nullptr, nullptr, &free, device};
    void* data = nullptr;
    // 64-byte alignment, as LibTorch's own CPU allocator gives vectorized kernels.
    if (::posix_memalign(&data, 64, bytes) != 0) throw std::bad_alloc();
    auto block = std::make_unique<Block>(Block{data, static_cast<std::int64_t>(bytes), counters_});
    counters_->add(block->bytes);
    return {data, block.release(), &free, device};
  }
  c10::DeleterFnPtr raw_deleter() const override { return nullptr; }

 private:
  static void free(void* context) {
    if (context == nullptr) return;
    const std::unique_ptr<Block> block(static_cast<Block*>(context));
    std::free(block->data);
    block->counters->add(-block->bytes);
  }
  std::shared_ptr<Counters> counters_;
};

DeviceTier::DeviceTier()
    : counters_(std::make_shared<Counters>()), allocator_(std::make_unique<Allocator>(counters_)) {}

DeviceTier::~DeviceTier() = default;

std::int64_t DeviceTier::liveBytes() const { return counters_->live.load(); }
std::int64_t DeviceTier::peakBytes() const { return counters_->peak.load(); }
void DeviceTier::resetPeak() { counters_->peak.store(counters_->live.load()); }

c10::Allocator& DeviceTier::allocator() const { return *allocator_; }

at::Tensor DeviceTier::empty(std::int64_t numel, at::ScalarType dtype) const {
  const auto bytes = static_cast<std::size_t>(numel) * c10::elementSize(dtype);
  c10::Storage storage(c10::Storage::use_byte_size_t(), bytes, allocator_->allocate(bytes), allocator_.get(),
                       /*resizable=*/true);
  return at::empty({0}, at::TensorOptions().dtype(dtype)).set_(storage, 0, {numel}, {1});
}

void DeviceTier::release(const at::Tensor& tensor) const {
  c10::StorageImpl* storage = tensor.storage().unsafeGetStorageImpl();
  storage->set_data_ptr_noswap(c10::DataPtr(nullptr, c10::Device(c10::DeviceType::CPU)));
  storage->set_nbytes(0);
}

void DeviceTier::reallocate(const at::Tensor& tensor, std::int64_t bytes) const {
  c10::StorageImpl* storage = tensor.storage().unsafeGetStorageImpl();
  storage->set_data_ptr_noswap(allocator_->allocate(static_cast<std::size_t>(bytes)));
  storage->set_nbytes(static_cast<std::size_t>(bytes));
}

bool DeviceTier::holdsBytes(const at::Tensor& tensor) { return tensor.storage().nbytes() > 0; }

}  // namespace behemoth
