// Step events carry every rank's own model-state bytes and peak RSS (what the Studio's memory
// chart draws per rank), and their maxima are the events' per-rank-maximum fields.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/support/parity.h"

namespace behemoth {
namespace {

TEST(PerRankMetrics, EveryRankReportsItsOwnFiguresAndTheMaximaAgree) {
  Project project = tinyProject(Arch::gpt);
  project.plan.zero = 2;  // sharded states: each rank holds its own partition
  const int nproc = 4;
  const ParityRun run = trainOnRanks(project, nproc);
  ASSERT_FALSE(run.step_events.empty());
  for (const auto& event : run.step_events) {
    const auto states = event.at("rank_model_state_bytes").get<std::vector<std::int64_t>>();
    const auto rss = event.at("rank_peak_rss_bytes").get<std::vector<std::int64_t>>();
    ASSERT_EQ(states.size(), static_cast<std::size_t>(nproc));
    ASSERT_EQ(rss.size(), static_cast<std::size_t>(nproc));
    EXPECT_EQ(*std::max_element(states.begin(), states.end()), event.at("model_state_bytes").get<std::int64_t>());
    EXPECT_EQ(*std::max_element(rss.begin(), rss.end()), event.at("peak_rss_bytes").get<std::int64_t>());
    for (int r = 0; r < nproc; ++r) {
      EXPECT_GT(rss[r], 0) << "rank " << r;
      EXPECT_GT(states[r], 0) << "rank " << r;
    }
  }
}

}  // namespace
}  // namespace behemoth
