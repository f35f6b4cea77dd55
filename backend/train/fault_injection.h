// A test-only fault: BEHEMOTH_TEST_FAIL_AT="RANK:STEP" makes that rank hit a genuine LibTorch
// error (an index out of range) at the start of that step, so end-to-end tests can check what a
// user sees when a worker fails mid-run. Unset in normal runs, where this costs one check a step.
#pragma once

#include <cstdint>

namespace behemoth {

void failHereIfInjected(int rank, std::int64_t step);

}  // namespace behemoth
