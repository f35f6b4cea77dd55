// Plan estimates and search results as JSON (what `behemoth plan --json` prints and the Studio
// reads): every memory term by stage, the time terms, the collectives, the ranked plans.
#pragma once

#include <nlohmann/json.hpp>

#include "memory/chunk_plan.h"
#include "memory/model_description.h"
#include "parallel/plan_estimate.h"
#include "parallel/plan_search.h"

namespace behemoth {

nlohmann::json layoutToJson(const TrainingLayout& layout);
nlohmann::json modelSummaryToJson(const ModelDescription& model);
nlohmann::json planEstimateToJson(const PlanEstimate& estimate);
nlohmann::json searchResultToJson(const SearchResult& result);
// A ZeRO-3 chunk plan (memory/chunk_plan.h): size, count, padding, bytes and shards per tier,
// the device peak, the bytes moved per step, and every chunk (`behemoth plan --json`: "chunks").
nlohmann::json chunkPlanToJson(const ChunkPlan& plan);

}  // namespace behemoth
