// How train.profile's figures are printed: largest kind first, and a summary without the warm-up step.
#include <gtest/gtest.h>

#include "backend/metrics/profile_text.h"

namespace behemoth {
namespace {

StepMetrics profiled(double matmul, double norm, double other) {
  StepMetrics metrics;
  metrics.profile_s = {{"matmul", matmul}, {"norm", norm}, {"other", other}};
  return metrics;
}

TEST(ProfileText, LineListsKindsLargestFirstWithTheirShare) {
  EXPECT_EQ(formatProfileLine(profiled(0.75, 0.25, 0.0)), "  time per step:  matmul 0.750 s (75%)  norm 0.250 s (25%)");
  EXPECT_EQ(formatProfileLine(StepMetrics{}), "");
}

TEST(ProfileText, SummaryLeavesOutTheFirstStepOnceThereIsASecond) {
  ProfileSummary summary;
  EXPECT_TRUE(summary.empty());
  summary.add(profiled(9.0, 1.0, 0.0));  // warm-up
  EXPECT_NE(summary.table().find("mean of 1 logged step, 10.000 s per step"), std::string::npos) << summary.table();
  summary.add(profiled(1.0, 0.5, 0.5));
  summary.add(profiled(3.0, 0.5, 0.5));
  const std::string table = summary.table();
  EXPECT_NE(table.find("mean of 2 logged steps after the first, 3.000 s per step"), std::string::npos) << table;
  EXPECT_NE(table.find("matmul            2.0000 s   66.7 %"), std::string::npos) << table;
  EXPECT_LT(table.find("matmul"), table.find("norm"));
}

}  // namespace
}  // namespace behemoth
