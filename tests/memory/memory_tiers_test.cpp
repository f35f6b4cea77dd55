// The device tier counts every byte allocated through it (and gives it back when released, while
// tensors keep viewing the storage); the disk tier maps a file of the asked size, refuses what
// cannot work naming parallel.offload_dir, and removes its file.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

#include "memory/chunk_placement.h"
#include "memory/device_tier.h"
#include "memory/disk_tier.h"

namespace behemoth {
namespace {

TEST(DeviceTier, CountsLiveAndPeakBytesThroughReleaseAndReallocation) {
  DeviceTier tier;
  EXPECT_EQ(tier.liveBytes(), 0);
  at::Tensor payload = tier.empty(1000, at::kFloat);
  EXPECT_EQ(tier.liveBytes(), 4000);
  const at::Tensor view = payload.narrow(0, 10, 20);
  tier.release(payload);
  EXPECT_EQ(tier.liveBytes(), 0);
  EXPECT_FALSE(DeviceTier::holdsBytes(view));
  tier.reallocate(payload, 4000);
  EXPECT_TRUE(DeviceTier::holdsBytes(view));
  payload.fill_(2.0f);
  EXPECT_EQ(view.sum().item<float>(), 40.0f);  // the view sees the new bytes
  { const at::Tensor other = tier.empty(500, at::kBFloat16); EXPECT_EQ(tier.liveBytes(), 5000); }
  EXPECT_EQ(tier.liveBytes(), 4000);
  EXPECT_EQ(tier.peakBytes(), 5000);
  tier.resetPeak();
  EXPECT_EQ(tier.peakBytes(), 4000);
}

TEST(DiskTier, MapsAFileOfTheSizeAndRemovesIt) {
  const auto dir = std::filesystem::temp_directory_path() / ("behemoth-disk-tier-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::filesystem::path file;
  {
    DiskTier disk(dir, 3, 4096);
    file = disk.path();
    EXPECT_EQ(file.filename(), "behemoth-rank-00003-pid" + std::to_string(::getpid()) + ".optim");
    EXPECT_EQ(std::filesystem::file_size(file), 4096u);
    at::Tensor a = disk.floats(0, 512);
    a.fill_(1.5f);
    EXPECT_EQ(disk.floats(256, 256).sum().item<float>(), 384.0f);
    EXPECT_THROW(disk.floats(1000, 100), std::out_of_range);
  }
  EXPECT_FALSE(std::filesystem::exists(file));
  std::filesystem::remove_all(dir);
}

TEST(DiskTier, RefusesAMissingDirectoryAndMissingSpaceNamingTheField) {
  try {
    DiskTier disk("/nonexistent/behemoth", 0, 16);
    FAIL();
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("parallel.offload_dir: /nonexistent/behemoth is not a directory"), std::string::npos);
  }
  try {
    DiskTier disk(std::filesystem::temp_directory_path(), 0, std::int64_t{1} << 60);  // an exabyte
    FAIL();
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("free; rank 0's disk tier needs"), std::string::npos) << error.what();
  }
}

TEST(ChunkPlacement, StaticFractionsTakeTheFirstChunks) {
  const ChunkPlacement p = staticPlacement(5, /*persistent_last=*/true, 0.5, 0.25, 0.5);
  // 4 regular chunks: 2 parameter shards on the host; 2 optimizer shards on disk, the next 1 on the host.
  EXPECT_EQ(p.param, (std::vector<Tier>{Tier::host, Tier::host, Tier::device, Tier::device, Tier::device}));
  EXPECT_EQ(p.optim, (std::vector<Tier>{Tier::disk, Tier::disk, Tier::host, Tier::device, Tier::device}));
  EXPECT_THROW(staticPlacement(4, false, 1.5, 0, 0), std::invalid_argument);
  EXPECT_THROW(staticPlacement(4, false, 0, 0.75, 0.5), std::invalid_argument);
  try {
    staticPlacement(4, false, 0, -0.1, 0);
  } catch (const std::invalid_argument& error) {
    EXPECT_STREQ(error.what(), "parallel.offload_optim_fraction: must be in [0, 1], got -0.1");
  }
}

}  // namespace
}  // namespace behemoth
