// Step events carry every rank's own model-state bytes and peak RSS (what the Studio's memory
// chart draws per rank), and their maxima are the events' per-rank-maximum fields.
//
// The ranks are made to differ, so that a figure reported for the wrong rank (every rank sending
// rank 0's, ranks swapped) or a wrong maximum fails: rank r keeps r x 128 MiB of touched memory
// resident while it trains, and measures its own peak RSS (getrusage) before and after training;
// the figure reported for rank r must lie between the two, and the ranks' ranges do not overlap.
// Model-state bytes are checked per rank against the ZeRO-2 formula, on a parameter count that
// does not split evenly over dp (ZeRO pads every rank's partition to the same size, so at this
// layout those figures are equal on every rank; the RSS figures are the ones that tell ranks apart).
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <algorithm>
#include <vector>

#include "backend/train/trainer.h"
#include "backend/metrics/event_sink.h"
#include "parallel/world.h"
#include "tests/support/multiprocess.h"
#include "tests/support/parity.h"

namespace behemoth {
namespace {

constexpr std::size_t kBallastStep = std::size_t{128} << 20;

double ownPeakRss() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;  // Linux reports kilobytes
}

TEST(PerRankMetrics, EveryRankReportsItsOwnFiguresAndTheMaximaAgree) {
  Project project = tinyProject(Arch::gpt);
  project.model.vocab_size = 257;  // 34,208 parameters: not a multiple of dp = 3
  project.data.global_batch_size = 12;
  project.plan.zero = 2;
  const int nproc = 3;
  const std::int64_t psi = project.model.parameterCount();
  ASSERT_NE(psi % nproc, 0) << "the premise: ZeRO has to pad";
  project.plan.dp = -1;
  validateForWorld(project, nproc);

  const RankRun run = runOnRanks(nproc, [&project](const WorldInfo& info) {
    Project local = project;
    local.train.out_dir = rankResultPath(info, "out");
    // Value-initialised: every page written, so all of it is resident while the rank trains.
    std::vector<char> ballast(static_cast<std::size_t>(info.rank) * kBallastStep, 1);
    ProcessWorld world(info, local.plan);
    Trainer trainer(local, world);
    const double before = ownPeakRss();
    std::vector<nlohmann::json> events;
    CallbackSink capture([&events](const nlohmann::json& event) {
      if (event.value("event", "") == "step") events.push_back(event);
    });
    trainer.run(info.rank == 0 ? &capture : nullptr);
    const double after = ownPeakRss();
    double touched = 0.0;  // reads the ballast back, so it lives to here
    for (std::size_t k = 0; k < ballast.size(); k += 4096) touched += ballast[k];
    saveRankDoubles(info, "peak_rss_range", {before, after, touched});
    if (info.rank == 0) saveRankText(info, "events", nlohmann::json(events).dump());
  });
  ASSERT_TRUE(expectAllRanksOk(run));

  std::vector<std::pair<double, double>> ranges;
  for (int r = 0; r < nproc; ++r) {
    const std::vector<double> measured = run.loadDoubles(r, "peak_rss_range");
    ranges.emplace_back(measured.at(0), measured.at(1));
    EXPECT_EQ(measured.at(2), static_cast<double>(r * kBallastStep / 4096)) << "rank " << r;
    // The premise that makes the test able to fail: no two ranks' ranges overlap.
    if (r > 0) {
      ASSERT_LT(ranges[r - 1].second, ranges[r].first) << "ranks " << r - 1 << " and " << r;
    }
  }

  // ZeRO-2, one bucket padded to a multiple of dp: fp32 parameters 4Ψ' on every rank, and its
  // own partition of the gradients and the two AdamW moments, 12Ψ'/dp.
  const std::int64_t padded = (psi + nproc - 1) / nproc * nproc;
  const std::int64_t expected_state = 4 * padded + 12 * padded / nproc;
  const nlohmann::json events = nlohmann::json::parse(run.loadText(0, "events"));
  ASSERT_EQ(events.size(), static_cast<std::size_t>(project.train.steps));
  for (const auto& event : events) {
    const auto states = event.at("rank_model_state_bytes").get<std::vector<std::int64_t>>();
    const auto rss = event.at("rank_peak_rss_bytes").get<std::vector<std::int64_t>>();
    ASSERT_EQ(states.size(), static_cast<std::size_t>(nproc));
    ASSERT_EQ(rss.size(), static_cast<std::size_t>(nproc));
    for (int r = 0; r < nproc; ++r) {
      EXPECT_EQ(states[r], expected_state) << "rank " << r << " step " << event.at("step");
      EXPECT_GE(static_cast<double>(rss[r]), ranges[r].first) << "rank " << r << " step " << event.at("step");
      EXPECT_LE(static_cast<double>(rss[r]), ranges[r].second) << "rank " << r << " step " << event.at("step");
    }
    EXPECT_EQ(event.at("model_state_bytes").get<std::int64_t>(), expected_state);
    // The largest ballast is the highest rank's: the maximum must be its figure.
    EXPECT_EQ(event.at("peak_rss_bytes").get<std::int64_t>(), rss[nproc - 1]);
    EXPECT_EQ(*std::max_element(rss.begin(), rss.end()), rss[nproc - 1]);
  }
}

}  // namespace
}  // namespace behemoth
