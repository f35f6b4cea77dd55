#include "parallel/zero3/tier_ledger.h"

#include <utility>

namespace behemoth {

void TierLedger::add(TierMove move) {
  if (move.from == move.to || move.bytes == 0) return;
  moved_ += move.bytes;
  if (move.phase.empty()) move.phase = phase_;
  if (move.stage.empty()) move.stage = stage_;
  moves_.push_back(std::move(move));
}

void TierLedger::takeStep() {
  moves_.clear();
  moved_ = 0;
}

void TierLedger::setPhase(std::string phase, std::string stage) {
  phase_ = std::move(phase);
  stage_ = std::move(stage);
}

}  // namespace behemoth
