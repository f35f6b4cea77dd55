#include "backend/cli/schedule_json.h"

namespace behemoth {

nlohmann::json scheduleJson(PipelineSchedule schedule, const PipelineShape& shape, const std::vector<BlockRange>& stage_blocks) {
  const PipelineSchedulePlan plan = buildPipelineSchedule(schedule, shape);
  const ActionCosts costs;
  const PipelineTimeline timeline = simulatePipeline(plan, shape, costs);
  nlohmann::json blocks = nlohmann::json::array();
  for (const BlockRange& range : stage_blocks) blocks.push_back({range.first, range.count});
  nlohmann::json ranks = nlohmann::json::array();
  for (const auto& list : plan) {
    nlohmann::json actions = nlohmann::json::array();
    for (const PipelineAction& a : list) {
      actions.push_back({{"kind", pipelineActionName(a.kind)}, {"micro_batch", a.micro_batch}, {"chunk", a.chunk}});
    }
    ranks.push_back(actions);
  }
  return {{"schedule", pipelineScheduleName(schedule)},
          {"pp", shape.stages},
          {"pp_virtual", shape.virtual_stages},
          {"micro_batches", shape.micro_batches},
          {"stage_blocks", blocks},
          {"ranks", ranks},
          {"costs",
           {{"forward", costs.forward},
            {"backward", costs.backward},
            {"backward_input", costs.backward_input},
            {"backward_weight", costs.backward_weight},
            {"transfer", costs.transfer}}},
          {"simulated",
           {{"makespan", timeline.makespan},
            {"bubble_fraction", timeline.bubble_fraction},
            {"peak_in_flight", timeline.peak_in_flight}}}};
}

}  // namespace behemoth
