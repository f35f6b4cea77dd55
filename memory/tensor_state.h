// The life of a parameter tensor inside a ZeRO-3 chunk during one micro-batch (PatrickStar's
// states), with the legal moves between them checked: an illegal move is a bug in the runtime and
// throws std::logic_error naming the tensor, so it is never silent corruption.
//
//   free ----gather----> holding ----stage starts----> computing ----stage ends----> holding
//   holding --release--> free
//   computing --its gradient is accumulated (backward)--> holding_after_backward
//   holding_after_backward --every tensor of its chunk is done--> ready_to_reduce
//   ready_to_reduce --reduced--> free (a regular chunk) | holding (the persistent chunk)
//   holding --its gradient is accumulated--> holding_after_backward  (a tensor whose stage already
//            ended, e.g. the persistent chunk's, whose gradient autograd writes late)
// Torch-free.
#pragma once

#include <string>
#include <string_view>

namespace behemoth {

enum class TensorState { free, holding, computing, holding_after_backward, ready_to_reduce };
inline constexpr int kTensorStateCount = 5;

std::string_view tensorStateName(TensorState state);
bool legalTransition(TensorState from, TensorState to);
// Returns `to`; throws std::logic_error "ZeRO-3: tensor NAME cannot go from A to B" when illegal.
TensorState checkedTransition(const std::string& tensor, TensorState from, TensorState to);

}  // namespace behemoth
