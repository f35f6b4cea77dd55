// The ZeRO-3 tensor state table: the moves of one micro-batch are legal, everything else is
// refused naming the tensor.
#include <gtest/gtest.h>

#include <stdexcept>

#include "memory/tensor_state.h"

namespace behemoth {
namespace {

using S = TensorState;

TEST(TensorState, AMicroBatchsMovesAreLegal) {
  const S path[] = {S::free, S::holding, S::computing, S::holding, S::free,  // forward, released
                    S::holding, S::computing, S::holding_after_backward, S::ready_to_reduce, S::free};
  for (std::size_t k = 1; k < std::size(path); ++k) EXPECT_TRUE(legalTransition(path[k - 1], path[k])) << k;
  EXPECT_TRUE(legalTransition(S::ready_to_reduce, S::holding));  // the persistent chunk stays gathered
  EXPECT_TRUE(legalTransition(S::holding, S::holding_after_backward));
}

TEST(TensorState, EveryOtherMoveIsRefusedNamingTheTensor) {
  int legal = 0;
  for (int from = 0; from < kTensorStateCount; ++from) {
    for (int to = 0; to < kTensorStateCount; ++to) legal += legalTransition(static_cast<S>(from), static_cast<S>(to)) ? 1 : 0;
  }
  EXPECT_EQ(legal, 9);  // the diagram's moves and no others
  EXPECT_FALSE(legalTransition(S::free, S::computing));  // computing on bytes that are not there
  EXPECT_FALSE(legalTransition(S::holding_after_backward, S::free));  // releasing an unreduced gradient
  try {
    checkedTransition("blocks.0.mlp.fc.weight", S::free, S::computing);
    FAIL() << "expected an error";
  } catch (const std::logic_error& error) {
    EXPECT_STREQ(error.what(), "ZeRO-3: tensor blocks.0.mlp.fc.weight cannot go from free to computing");
  }
}

}  // namespace
}  // namespace behemoth
