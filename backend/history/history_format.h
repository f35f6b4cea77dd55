// Text renderings of the history for the `behemoth history` command.
#pragma once

#include <string>
#include <vector>

#include "backend/history/history_store.h"

namespace behemoth {

// "dp2 tp2 zero1" from a plan's JSON: axes larger than one, and the ZeRO stage when on.
std::string planSummary(const nlohmann::json& plan);

// One row per run: id, name, outcome, start time, plan, logged steps, last step, final loss, eval
// loss, tok/s, tags.
std::string formatRunList(const std::vector<RunRecord>& runs);
// A run's fields (with its last step, launcher and restarts), summary, its checkpoints, resumes and
// restarts, and its logged steps (long runs are sampled, always showing the last step).
std::string formatRunDetails(const RunDetails& details);
// Two runs side by side: the project and plan fields that differ, then the results (final loss,
// eval loss, tokens/s, peak memory, model state, duration) with b relative to a.
std::string formatRunComparison(const RunDetails& a, const RunDetails& b);

}  // namespace behemoth
