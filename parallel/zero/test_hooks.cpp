#include "parallel/zero/test_hooks.h"

namespace behemoth {
namespace {
GradientShardHook& hookStorage() {
  static GradientShardHook hook;
  return hook;
}
}  // namespace

void setZeroGradientHookForTesting(GradientShardHook hook) { hookStorage() = std::move(hook); }
const GradientShardHook& zeroGradientHookForTesting() { return hookStorage(); }

}  // namespace behemoth
