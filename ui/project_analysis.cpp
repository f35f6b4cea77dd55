#include "ui/project_analysis.h"

#include <cctype>
#include <stdexcept>

#include "backend/planning/plan_inputs.h"
#include "memory/memory_model.h"

namespace behemoth::ui {
namespace {

FieldIssue issueOf(const std::exception& error) { return {fieldOfMessage(error.what()), error.what()}; }

std::int64_t activationBytesOf(const StageMemory& stage) {
  std::int64_t bytes = 0;
  for (const MemoryTerm& term : stage.terms) bytes += term.name == kTermActivations ? term.device_bytes : 0;
  return bytes;
}

// What `behemoth run` would reject beyond shapes: this build's missing features, and a corpus
// that is not on this machine. Neither stops planning.
bool isRunOnlyProblem(const Project& resolved, const std::string& message) {
  if (message.rfind("data.corpus", 0) == 0) return true;
  try {
    rejectUnavailableFeatures(resolved);
  } catch (const std::invalid_argument& unavailable) {
    return message == unavailable.what();
  }
  return false;
}

}  // namespace

std::string fieldOfMessage(const std::string& message) {
  std::size_t end = 0;
  while (end < message.size() && (std::islower(static_cast<unsigned char>(message[end])) || message[end] == '_' ||
                                  message[end] == '.' || std::isdigit(static_cast<unsigned char>(message[end])))) {
    ++end;
  }
  const bool names_field = end > 0 && end < message.size() && (message[end] == ':' || message[end] == ' ');
  const std::string field = names_field ? message.substr(0, end) : std::string();
  // Only project paths count ("world size must..." starts with a plain word).
  static const char* const kSections[] = {"name", "model", "data", "devices", "parallel", "precision", "optimizer", "train"};
  for (const char* section : kSections) {
    const std::string s = section;
    if (field == s || field.rfind(s + ".", 0) == 0) return field;
  }
  return {};
}

int ProjectAnalysis::devicesOverCapacity() const {
  if (capacity_bytes <= 0) return 0;
  int over = 0;
  for (const DeviceMemory& device : devices) over += double(device.total()) > capacity_bytes ? 1 : 0;
  return over;
}

std::vector<DeviceMemory> deviceMemory(const PlanEstimate& estimate, const Plan& resolved_plan) {
  const Mesh mesh(resolved_plan);
  // Group the stage's terms once; ranks then copy their stage's figures.
  std::vector<DeviceMemory> per_stage(estimate.memory.stages.size());
  for (std::size_t s = 0; s < per_stage.size(); ++s) {
    const StageMemory& stage = estimate.memory.stages[s];
    DeviceMemory& d = per_stage[s];
    d.stage = stage.stage;
    for (const MemoryTerm& term : stage.terms) {
      d.host += term.host_bytes;
      d.disk += term.disk_bytes;
      if (term.name == kTermGatheredChunks || term.name == kTermPersistentChunk) {
        // Gathered parameters: drawn with the parameters (the tier stack draws them apart).
        d.parameters += term.device_bytes;
        d.chunks_in_flight += term.device_bytes;
      } else if (term.name == kTermParameters) {
        d.parameters += term.device_bytes;
      } else if (term.name == kTermGradients || term.name == kTermMasterGrads) {
        d.gradients += term.device_bytes;
      } else if (term.name == kTermOptimizer || term.name == kTermMasterWeights) {
        d.optimizer += term.device_bytes;
      } else if (term.name == kTermActivations) {
        d.activations += term.device_bytes;
      } else {
        d.buffers += term.device_bytes;
      }
    }
  }
  std::vector<DeviceMemory> devices;
  devices.reserve(mesh.worldSize());
  for (int rank = 0; rank < mesh.worldSize(); ++rank) {
    const Mesh::Coordinates coordinates = mesh.coordinates(rank);
    const int stage = coordinates[static_cast<int>(Axis::pp)];
    DeviceMemory d = per_stage.at(std::min<std::size_t>(stage, per_stage.size() - 1));
    d.rank = rank;
    d.coordinates = coordinates;
    devices.push_back(d);
  }
  return devices;
}

ProjectAnalysis analyzeProject(const nlohmann::json& json, const std::string& base_dir) {
  ProjectAnalysis analysis;
  Project project;
  try {
    project = projectFromJson(json, base_dir);
  } catch (const std::exception& error) {
    analysis.error = issueOf(error);
    return analysis;
  }
  try {
    analysis.model = describeModel(project.model);
    analysis.parameter_count = totalParameters(*analysis.model);
    analysis.flops = flopsPerToken(*analysis.model);
    analysis.device = deviceFromProject(project);
    analysis.capacity_bytes = analysis.device.memory_bytes;
  } catch (const std::exception& error) {
    analysis.error = issueOf(error);
    analysis.project = project;
    return analysis;
  }
  // The engine's own launch checks, on a copy: shapes fail the plan; features this build lacks
  // (and a missing corpus) only stop a launch.
  Project checked = project;
  try {
    validateForWorld(checked, project.devices.count);
  } catch (const std::invalid_argument& error) {
    Project resolved = project;
    bool resolvable = true;
    try {
      resolved.plan.resolve(project.devices.count);
    } catch (const std::invalid_argument&) {
      resolvable = false;
    }
    if (resolvable && isRunOnlyProblem(resolved, error.what())) {
      analysis.run_blocker = issueOf(error);
      checked = resolved;
    } else {
      analysis.error = issueOf(error);
      analysis.project = project;
      return analysis;
    }
  }
  analysis.project = checked;
  try {
    const TrainingLayout layout = layoutFromProject(checked);
    const MemoryAllowance allowance = defaultAllowance(analysis.device.kind);
    analysis.estimate = estimatePlan(*analysis.model, layout, analysis.device, allowance, checked.plan.order);
    analysis.devices = deviceMemory(*analysis.estimate, checked.plan);
    TrainingLayout other = layout;
    other.fused_attention = !layout.fused_attention;
    analysis.other_attention_activation_bytes = activationBytesOf(estimateMemory(*analysis.model, other, allowance).stages.front());
    // Where the planner's chunk plan describes what the engine holds (zero 3 on one stage).
    if (chunkPlanApplies(*analysis.model, layout)) {
      analysis.chunk_plan = planChunks(*analysis.model, layout);
      analysis.planned_tensors = plannedTensors(*analysis.model, layout.tp);
    }
  } catch (const std::exception& error) {
    analysis.error = issueOf(error);
    analysis.estimate.reset();
    analysis.devices.clear();
    analysis.other_attention_activation_bytes = 0;
    analysis.chunk_plan.reset();
    analysis.planned_tensors.clear();
  }
  return analysis;
}

}  // namespace behemoth::ui
