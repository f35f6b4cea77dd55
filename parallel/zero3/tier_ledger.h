// ZeRO-3's record of what each memory tier holds and of every copy between tiers: what the step
// events report (rank_*_bytes, rank_tier_moved_bytes) and the chunk record lists.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "memory/chunk_placement.h"

namespace behemoth {

struct TierMove {
  std::size_t chunk = 0;
  std::string part;   // "param" | "grad" | "optim"
  Tier from = Tier::device;
  Tier to = Tier::device;
  std::int64_t bytes = 0;
  std::string phase;  // "forward" | "backward" | "update"
  std::string stage;  // "embed" | "block N" | "head" | "update"
};

class TierLedger {
 public:
  void add(TierMove move);
  // Bytes copied between tiers since the last takeStep(); the moves themselves.
  std::int64_t movedBytes() const { return moved_; }
  const std::vector<TierMove>& moves() const { return moves_; }
  void takeStep();

  // Where the ledger is in the step (for the moves' labels).
  void setPhase(std::string phase, std::string stage);
  const std::string& phase() const { return phase_; }
  const std::string& stage() const { return stage_; }

 private:
  std::vector<TierMove> moves_;
  std::int64_t moved_ = 0;
  std::string phase_ = "forward";
  std::string stage_ = "embed";
};

}  // namespace behemoth
