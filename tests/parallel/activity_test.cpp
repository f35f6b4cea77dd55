#include "parallel/activity.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace behemoth {
namespace {

TEST(Activity, ScopesRestoreThePreviousText) {
  setActivity("idle");
  {
    ActivityScope outer("forward step 3");
    EXPECT_EQ(currentActivity(), "forward step 3");
    {
      ActivityScope inner("all_reduce on axis dp (4096 bytes)");
      EXPECT_EQ(currentActivity(), "all_reduce on axis dp (4096 bytes)");
    }
    EXPECT_EQ(currentActivity(), "forward step 3");
  }
  EXPECT_EQ(currentActivity(), "idle");
  setActivityf("step %d of %s", 7, "train");
  EXPECT_EQ(currentActivity(), "step 7 of train");
}

TEST(Activity, WritesIntoAnAttachedBufferAndTruncates) {
  std::array<char, 16> shared{};
  setActivity("carried over");
  attachActivitySlot(shared.data(), shared.size());
  EXPECT_EQ(std::string(shared.data()), "carried over");
  setActivity("a text much longer than sixteen bytes");
  EXPECT_EQ(std::string(shared.data()), "a text much lon");  // 15 chars + NUL
  EXPECT_EQ(currentActivity(), "a text much lon");
  attachActivitySlot(nullptr, 0);
  setActivity("local again");
  EXPECT_EQ(std::string(shared.data()), "a text much lon");
  EXPECT_EQ(currentActivity(), "local again");
}

}  // namespace
}  // namespace behemoth
