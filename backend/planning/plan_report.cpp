#include "backend/planning/plan_report.h"

#include "backend/planning/runnable_plan.h"

namespace behemoth {

nlohmann::json layoutToJson(const TrainingLayout& l) {
  return {{"dp", l.dp},
          {"pp", l.pp},
          {"tp", l.tp},
          {"sp", l.sp},
          {"ep", l.ep},
          {"zero", l.zero},
          {"precision", numericFormatName(l.precision)},
          {"state_layout", l.state_layout == StateLayout::behemoth ? "behemoth" : "zero_paper"},
          {"tensor_mode", tensorModeName(l.tensor_mode)},
          {"sequence_parallel", l.sequence_parallel},
          {"context_mode", contextModeName(l.context_mode)},
          {"schedule", pipelineScheduleName(l.schedule)},
          {"virtual_stages", l.virtual_stages},
          {"micro_batch_size", l.micro_batch_size},
          {"micro_batches", l.micro_batches},
          {"recompute", recomputeName(l.recompute)},
          {"optimizer_offload", l.optimizer_offload},
          {"parameter_offload", l.parameter_offload},
          {"chunk_elements", l.chunk_elements},
          {"disk_optim_fraction", l.disk_optim_fraction},
          {"device_budget_bytes", l.device_budget_bytes},
          {"placement", chunkPolicyName(l.placement)},
          {"prefetch", l.prefetch}};
}

nlohmann::json chunkPlanToJson(const ChunkPlan& plan) {
  const auto perTier = [](const auto& values) {
    nlohmann::json tiers = nlohmann::json::object();
    for (int t = 0; t < kTierCount; ++t) tiers[tierName(static_cast<Tier>(t))] = values[t];
    return tiers;
  };
  nlohmann::json chunks = nlohmann::json::array();
  for (std::size_t c = 0; c < plan.chunks.size(); ++c) {
    const PlannedChunk& chunk = plan.chunks[c];
    chunks.push_back({{"index", c},
                      {"tensors", chunk.tensors},
                      {"numel", chunk.numel},
                      {"capacity", chunk.capacity},
                      {"padding", chunk.padding()},
                      {"persistent", chunk.persistent},
                      {"gathers", chunk.gathers},
                      {"param_tier", tierName(chunk.param_tier)},
                      {"optim_tier", tierName(chunk.optim_tier)}});
  }
  return {{"chunk_elements", plan.chunk_elements},
          {"chunk_count", plan.chunks.size()},
          {"regular_chunks", plan.regularChunks()},
          {"padding_elements", plan.paddingElements()},
          {"capacity_elements", plan.capacityElements()},
          {"tier_bytes", perTier(plan.tier_bytes)},
          {"chunks_on", perTier(plan.chunks_on)},
          {"device_peak_bytes", plan.device_peak_bytes},
          {"moved_bytes_per_step", plan.moved_bytes_per_step},
          {"model_state_bytes", plan.model_state_bytes},
          {"persistent_gathered_bytes", plan.persistent_gathered_bytes},
          {"max_gathered_chunks", plan.max_gathered_chunks},
          {"widest_stage", plan.widest_stage},
          {"widest_stage_gathered_bytes", plan.widest_stage_gathered_bytes},
          {"chunks", chunks}};
}

nlohmann::json modelSummaryToJson(const ModelDescription& m) {
  const ParameterCounts counts = parameterCounts(m);
  const FlopsPerToken flops = flopsPerToken(m);
  return {{"family", modelFamilyName(m.family)},
          {"parameters", counts.total(m.layers)},
          {"parameters_by_type",
           {{"token_embedding", counts.token_embedding},
            {"position_embedding", counts.position_embedding},
            {"attention_per_layer", counts.attention},
            {"mlp_per_layer", counts.mlp},
            {"norms_per_layer", counts.norms},
            {"final_norm", counts.final_norm},
            {"head", counts.head}}},
          {"flops_per_token",
           {{"forward", flops.forward},
            {"backward", flops.backward},
            {"recompute_full", flops.recompute_full},
            {"recompute_selective", flops.recompute_selective}}}};
}

nlohmann::json planEstimateToJson(const PlanEstimate& e) {
  nlohmann::json stages = nlohmann::json::array();
  for (const StageMemory& stage : e.memory.stages) {
    nlohmann::json terms = nlohmann::json::object();
    for (const MemoryTerm& term : stage.terms) {
      terms[term.name] = {
          {"device_bytes", term.device_bytes}, {"host_bytes", term.host_bytes}, {"disk_bytes", term.disk_bytes}};
    }
    stages.push_back({{"stage", stage.stage},
                      {"first_layer", stage.first_layer},
                      {"layers", stage.layers},
                      {"embedding", stage.holds_embedding},
                      {"head", stage.holds_head},
                      {"parameters", stage.parameters},
                      {"in_flight_micro_batches", stage.in_flight_micro_batches},
                      {"terms", terms},
                      {"model_state_bytes", stage.modelStateBytes()},
                      {"device_bytes", stage.deviceBytes()},
                      {"host_bytes", stage.hostBytes()},
                      {"disk_bytes", stage.diskBytes()}});
  }
  nlohmann::json collectives = nlohmann::json::array();
  for (const CollectiveLoad& load : e.collectives) {
    collectives.push_back({{"axis", load.axis},
                           {"what", load.what},
                           {"kind", collectiveKindName(load.kind)},
                           {"payload_bytes", load.payload_bytes},
                           {"group_size", load.group_size},
                           {"count", load.count},
                           {"bus_bytes", load.bus_bytes},
                           {"intra_node", load.intra_node}});
  }
  nlohmann::json comm = nlohmann::json::object();
  for (const AxisTime& axis : e.time.comm) {
    comm[axis.axis] = {{"bytes", axis.bytes}, {"total_s", axis.total_s}, {"exposed_s", axis.exposed_s}};
  }
  const TimeEstimate& t = e.time;
  return {{"layout", layoutToJson(e.layout)},
          {"stages", stages},
          {"peak_stage", e.memory.peakStage()},
          {"peak_device_bytes", e.memory.peakDeviceBytes()},
          {"peak_host_bytes", e.memory.peakHostBytes()},
          {"fits", e.fits()},
          {"shortfall_bytes", e.shortfall_bytes},
          {"collectives", collectives},
          {"comm_bytes_per_step", e.comm_bytes_per_step},
          {"time",
           {{"compute_s", t.compute_s},
            {"bubble_s", t.bubble_s},
            {"optimizer_s", t.optimizer_s},
            {"offload_s", t.offload_s},
            {"comm_exposed_s", t.comm_exposed_s},
            {"comm", comm},
            {"step_s", t.step_s},
            {"tokens_per_s", t.tokens_per_s},
            {"tokens_per_s_per_device", t.tokens_per_s_per_device},
            {"mfu", t.mfu},
            {"hfu", t.hfu}}}};
}

namespace {

nlohmann::json rankedPlanToJson(const RankedPlan& plan, bool judged) {
  nlohmann::json out = {{"rank", plan.rank},
                        {"summary", plan.summary},
                        {"reason", plan.reason},
                        {"set", layoutOverrides(plan.estimate.layout)},
                        {"estimate", planEstimateToJson(plan.estimate)}};
  if (judged) {
    out["runnable"] = plan.runnable;
    if (!plan.runnable) out["not_runnable"] = plan.not_runnable;
  }
  return out;
}

}  // namespace

nlohmann::json searchResultToJson(const SearchResult& r) {
  nlohmann::json best = nlohmann::json::array();
  for (const RankedPlan& plan : r.best) best.push_back(rankedPlanToJson(plan, r.judged));
  nlohmann::json out = {{"evaluated", r.evaluated}, {"fitting", r.fitting}, {"seconds", r.seconds},
                        {"message", r.message}, {"best", best}};
  if (r.judged) {
    nlohmann::json runnable = nlohmann::json::array();
    for (const RankedPlan& plan : r.runnable) runnable.push_back(rankedPlanToJson(plan, true));
    out["runnable"] = runnable;
  }
  if (r.closest) {
    out["closest"] = {{"summary", r.closest->summary},
                      {"reason", r.closest->reason},
                      {"estimate", planEstimateToJson(r.closest->estimate)}};
  }
  return out;
}

}  // namespace behemoth
