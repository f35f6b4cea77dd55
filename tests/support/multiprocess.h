// Runs a function on N forked rank processes that rendezvous through a private FileStore, and
// reports every rank's outcome: its exception message, a crash (signal or exit code), or - when the
// hard deadline passes - what every rank was doing (its Activity) before the group is killed.
//
//   auto run = runOnRanks(4, [](const WorldInfo& info) {
//     ProcessWorld world(info, plan);
//     ...
//     saveRankTensor(info, "weights", w);          // results travel back through files
//   });
//   ASSERT_TRUE(expectAllRanksOk(run));
//   at::Tensor w0 = run.loadTensor(0, "weights");
#pragma once

#include <ATen/core/Tensor.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "parallel/world.h"

namespace behemoth {

struct RankOutcome {
  int rank = 0;
  bool ok = false;
  std::string message;        // empty when ok
  std::string last_activity;  // the rank's Activity when it finished or was killed
};

// The outcomes of one run plus the run's temporary directory (results written by the ranks), which
// is removed when this object is destroyed. Behaves like a std::vector<RankOutcome>.
class RankRun {
 public:
  RankRun(std::string directory, std::vector<RankOutcome> outcomes);
  ~RankRun();
  RankRun(RankRun&& other) noexcept;
  RankRun& operator=(RankRun&&) = delete;
  RankRun(const RankRun&) = delete;
  RankRun& operator=(const RankRun&) = delete;

  const std::vector<RankOutcome>& outcomes() const { return outcomes_; }
  operator const std::vector<RankOutcome>&() const { return outcomes_; }
  size_t size() const { return outcomes_.size(); }
  const RankOutcome& operator[](size_t rank) const { return outcomes_.at(rank); }
  std::vector<RankOutcome>::const_iterator begin() const { return outcomes_.begin(); }
  std::vector<RankOutcome>::const_iterator end() const { return outcomes_.end(); }
  bool allOk() const;
  const std::string& directory() const { return directory_; }

  // Results a rank saved with saveRankTensor / saveRankDoubles / saveRankText. Throw
  // std::runtime_error naming the rank and result when it is missing.
  at::Tensor loadTensor(int rank, const std::string& name) const;
  std::vector<double> loadDoubles(int rank, const std::string& name) const;
  std::string loadText(int rank, const std::string& name) const;
  bool hasResult(int rank, const std::string& name) const;

 private:
  std::string directory_;
  std::vector<RankOutcome> outcomes_;
};

// Runs fn(world_info) on n forked processes (ranks 0..n-1); never returns into gtest from a child.
// A rank fails when fn throws (its what() is the message), when a gtest assertion inside fn fails
// (file:line and message), or when the process dies (signal or exit code).
// `timeout` is the hard deadline for the whole run; `collective_timeout` becomes WorldInfo::timeout.
RankRun runOnRanks(int n, const std::function<void(const WorldInfo&)>& fn,
                   std::chrono::seconds timeout = std::chrono::seconds(120),
                   std::chrono::milliseconds collective_timeout = std::chrono::milliseconds(30000));

// ADD_FAILURE with every failing rank's message and last activity; true when every rank is ok.
bool expectAllRanksOk(const std::vector<RankOutcome>& outcomes);

// Child side: where a rank writes a named result (inside the run's temporary directory).
std::string rankResultPath(const WorldInfo& info, const std::string& name);
void saveRankTensor(const WorldInfo& info, const std::string& name, const at::Tensor& tensor);
void saveRankDoubles(const WorldInfo& info, const std::string& name, const std::vector<double>& values);
void saveRankText(const WorldInfo& info, const std::string& name, const std::string& text);

}  // namespace behemoth
