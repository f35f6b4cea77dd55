// Test-only faults, so end-to-end tests can check what a user sees when a worker fails or dies
// mid-run, and that `behemoth run --max-restarts` gets past it:
//   BEHEMOTH_TEST_FAIL_AT=RANK:STEP[:ATTEMPT]  that rank hits a genuine LibTorch error (an index
//                                              out of range);
//   BEHEMOTH_TEST_KILL_AT=RANK:STEP[:ATTEMPT]  that rank SIGKILLs itself (a crash: no error
//                                              report, no cleanup).
// STEP counts completed steps: the fault fires at the start of the step after STEP complete ones
// ("1:2" as rank 1 begins its third step). ATTEMPT is the start of the job it fires on: the
// launcher exports BEHEMOTH_RESTART (0 on the first start, n after the n-th restart); omitted, 0,
// so a restarted job gets past the fault; "*" fires on every start. Unset in normal runs, where
// this costs one check a step.
#pragma once

#include <cstdint>

namespace behemoth {

void failHereIfInjected(int rank, std::int64_t step);

}  // namespace behemoth
