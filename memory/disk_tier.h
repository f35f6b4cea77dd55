// The disk tier: one memory-mapped file per rank under parallel.offload_dir holding the optimizer
// shards placed on disk, so a rank's model states may exceed host memory (the kernel pages the
// file in and out; its pages are page cache it can drop, not the process's own memory). The file
// is created at its final size before training (free space checked first, naming both figures)
// and removed when the tier is destroyed.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>

namespace behemoth {

class DiskTier {
 public:
  // Creates `directory`/behemoth-rank-NNNNN-pidP.optim of `bytes` bytes (a new file: never one
  // another run is using) and maps it. Throws
  // std::runtime_error naming parallel.offload_dir, the file and the figures when the directory
  // cannot be written or lacks the space.
  DiskTier(const std::filesystem::path& directory, int rank, std::int64_t bytes);
  ~DiskTier();
  DiskTier(const DiskTier&) = delete;
  DiskTier& operator=(const DiskTier&) = delete;

  // fp32 elements [offset, offset + numel) of the file as a tensor viewing the mapping (no copy).
  at::Tensor floats(std::int64_t offset, std::int64_t numel) const;
  std::int64_t bytes() const { return bytes_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::int64_t bytes_ = 0;
  void* mapping_ = nullptr;
  int fd_ = -1;
};

}  // namespace behemoth
