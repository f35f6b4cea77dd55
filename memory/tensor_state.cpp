#include "memory/tensor_state.h"

#include <array>
#include <stdexcept>

namespace behemoth {
namespace {

using S = TensorState;

// kLegal[from][to]: the moves the runtime may make (the diagram in the header).
constexpr std::array<std::array<bool, kTensorStateCount>, kTensorStateCount> kLegal = {{
    //            free   holding computing after_bwd ready
    /* free */ {{false, true, false, false, false}},
    /* holding */ {{true, false, true, true, false}},
    /* computing */ {{false, true, false, true, false}},
    /* after_bwd */ {{false, false, false, false, true}},
    /* ready */ {{true, true, false, false, false}},
}};

}  // namespace

std::string_view tensorStateName(TensorState state) {
  switch (state) {
    case S::free: return "free";
    case S::holding: return "holding";
    case S::computing: return "computing";
    case S::holding_after_backward: return "holding-after-backward";
    case S::ready_to_reduce: return "ready-to-reduce";
  }
  return "unknown";
}

bool legalTransition(TensorState from, TensorState to) {
  return kLegal[static_cast<std::size_t>(from)][static_cast<std::size_t>(to)];
}

TensorState checkedTransition(const std::string& tensor, TensorState from, TensorState to) {
  if (!legalTransition(from, to)) {
    throw std::logic_error("ZeRO-3: tensor " + tensor + " cannot go from " + std::string(tensorStateName(from)) + " to " +
                           std::string(tensorStateName(to)));
  }
  return to;
}

}  // namespace behemoth
