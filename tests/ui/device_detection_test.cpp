// "Detect this machine" turns the engine's environment report into the project's devices.
#include <gtest/gtest.h>

#include "ui/device_detection.h"

namespace behemoth::ui {
namespace {

TEST(DeviceDetection, CpuOnlyMachineIsOneProcessPerCoreWithAShareOfTheMemory) {
  const nlohmann::json report = {{"cpu", {{"cores", 4}, {"memory_gib", 16.0}, {"model", "x"}}},
                                 {"cuda", {{"available", false}, {"devices", 0}}}};
  const auto found = devicesFromEnvironment(report);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->devices.at("kind"), "cpu");
  EXPECT_EQ(found->devices.at("count"), 4);
  EXPECT_EQ(found->devices.at("per_node"), 4);
  // 16 GiB = 17.18 GB over 4 processes: 4.29, rounded down to 0.1 GB.
  EXPECT_DOUBLE_EQ(found->devices.at("memory_gb").get<double>(), 4.2);
  EXPECT_EQ(found->summary.toStdString(), "4 CPU cores, 17.2 GB (4.2 GB per process)");
}

TEST(DeviceDetection, GpusWinOverCores) {
  const nlohmann::json report = {{"cpu", {{"cores", 64}, {"memory_gib", 512.0}}},
                                 {"cuda", {{"available", true}, {"devices", 8}}}};
  const auto found = devicesFromEnvironment(report);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->devices.at("kind"), "cuda");
  EXPECT_EQ(found->devices.at("count"), 8);
  EXPECT_EQ(found->devices.at("per_node"), 8);
}

TEST(DeviceDetection, AReportWithoutTheFieldsIsNotGuessedAt) {
  EXPECT_FALSE(devicesFromEnvironment(nlohmann::json::object()));
  EXPECT_FALSE(devicesFromEnvironment({{"cpu", {{"cores", 0}, {"memory_gib", 8.0}}}, {"cuda", {{"available", false}}}}));
  EXPECT_FALSE(devicesFromEnvironment({{"cpu", {{"cores", "two"}}}, {"cuda", {{"available", false}}}}));
}

}  // namespace
}  // namespace behemoth::ui
