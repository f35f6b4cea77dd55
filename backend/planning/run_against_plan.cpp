#include "backend/planning/run_against_plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "backend/metrics/progress_printer.h"
#include "backend/planning/plan_inputs.h"
#include "memory/memory_model.h"
#include "parallel/plan_estimate.h"

namespace behemoth {
namespace {

// The figure of `rank` in a per-rank vector, the largest over the logged steps (memory only grows
// to its peak; model state is the same every step).
std::optional<double> rankPeak(const std::vector<StepMetrics>& steps, int rank,
                               std::vector<std::int64_t> StepMetrics::*field) {
  std::optional<double> peak;
  for (const StepMetrics& step : steps) {
    const auto& values = step.*field;
    if (rank < static_cast<int>(values.size())) peak = std::max(peak.value_or(0.0), double(values[rank]));
  }
  return peak;
}

// The median over the logged steps: a first step's warm-up or a stray checkpoint save does not move it.
std::optional<double> medianOf(std::vector<double> values) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 ? values[middle] : 0.5 * (values[middle - 1] + values[middle]);
}

Project recordedProject(const RunDetails& details) {
  nlohmann::json json = details.run.project;
  // The resolved plan is what ran (dp filled in).
  if (details.run.plan.is_object() && !details.run.plan.empty()) json["parallel"] = details.run.plan;
  try {
    Project project = projectFromJson(json);
    validateForWorld(project, details.run.world_size);
    return project;
  } catch (const std::exception& error) {
    throw std::invalid_argument("run " + std::to_string(details.run.id) + ": its recorded project cannot be planned: " + error.what());
  }
}

std::string describeDevice(const DeviceSpec& device) {
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.1f", device.peak_flops * device.compute_efficiency / 1e9);
  std::string text = device.kind;
  if (!device.name.empty() && device.name != device.kind) text += " " + device.name;
  return text + " (" + rate + " GFLOP/s achievable per rank)";
}

std::string percent(const std::optional<double>& error) {
  if (!error) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%+.2f %%", 100 * *error);
  return text;
}

std::string valueText(const PlanFigure& figure, const std::optional<double>& value) {
  if (!value) return "-";
  if (figure.is_bytes) return formatBytes(*value);
  char text[32];
  std::snprintf(text, sizeof text, "%.1f ms", *value * 1e3);
  return text;
}

std::string coordinatesText(const Mesh::Coordinates& coordinates, const Plan& plan) {
  std::string text;
  for (const Axis axis : plan.order) {
    if (plan.size(axis) <= 1) continue;
    text += (text.empty() ? "" : " ") + std::string(axisName(axis)) + std::to_string(coordinates[static_cast<int>(axis)]);
  }
  return text.empty() ? "-" : text;
}

}  // namespace

std::optional<double> PlanFigure::relativeError() const {
  if (!predicted || !measured || *predicted == 0) return std::nullopt;
  return (*measured - *predicted) / *predicted;
}

RunAgainstPlan compareRunWithPlan(const RunDetails& details, const CpuRateChoice& rate) {
  if (details.steps.empty()) throw std::invalid_argument("run " + std::to_string(details.run.id) + " logged no step to compare with the plan");
  const Project project = recordedProject(details);
  const ModelDescription model = describeModel(project.model);
  const DeviceSpec device = planningDevice(project, rate);
  const PlanEstimate estimate =
      estimatePlan(model, layoutFromProject(project), device, defaultAllowance(device.kind), project.plan.order);
  const Mesh mesh(project.plan);

  RunAgainstPlan out;
  out.device = describeDevice(device);
  out.world_size = mesh.worldSize();
  const std::vector<StepMetrics>& steps = details.steps;
  for (int rank = 0; rank < mesh.worldSize(); ++rank) {
    RankAgainstPlan row;
    row.rank = rank;
    row.coordinates = mesh.coordinates(rank);
    row.stage = row.coordinates[static_cast<int>(Axis::pp)];
    row.position = coordinatesText(row.coordinates, project.plan);
    const StageMemory& stage = estimate.memory.stages.at(row.stage);
    row.figures.push_back({"model state", true, double(stage.modelStateBytes()),
                           rankPeak(steps, rank, &StepMetrics::rank_model_state_bytes)});
    // On a CPU the process's resident memory holds what the planner puts on the device and on the host.
    const bool cpu = device.kind == "cpu";
    const double memory = double(stage.deviceBytes()) + (cpu ? double(stage.hostBytes()) : 0.0);
    // On a GPU the resident memory is the host's: the counting allocator's peak of live tensors
    // (train.measure_memory; the largest rank's) is what the device held.
    std::optional<double> peak = cpu ? rankPeak(steps, rank, &StepMetrics::rank_peak_rss_bytes) : std::nullopt;
    if (!cpu && project.plan.pp == 1) {
      for (const StepMetrics& step : steps) {
        if (step.peak_tensor_bytes) peak = std::max(peak.value_or(0.0), double(*step.peak_tensor_bytes));
      }
    }
    row.figures.push_back({cpu ? "peak memory (RSS)" : "peak memory (tensors)", true, memory, peak});
    std::optional<double> activations = rankPeak(steps, rank, &StepMetrics::rank_activation_bytes);
    // Without per-rank figures a step reports the largest rank's, which every rank holds when
    // there are no stages.
    if (!activations && project.plan.pp == 1) {
      for (const StepMetrics& step : steps) {
        if (step.activation_bytes) activations = std::max(activations.value_or(0.0), double(*step.activation_bytes));
      }
    }
    row.figures.push_back({"activations", true, double(stage.term(kTermActivations).device_bytes), activations});
    out.ranks.push_back(std::move(row));
  }

  std::vector<double> comm;
  std::vector<double> times;
  for (std::size_t k = 0; k < steps.size(); ++k) {
    comm.push_back(double(steps[k].comm_bytes));
    // The first logged step pays for warm-up (allocations, first-touch pages) when others exist.
    if (k > 0 || steps.size() == 1) times.push_back(steps[k].step_time_s);
  }
  out.step.push_back({"comm per step (per rank)", true, double(estimate.comm_bytes_per_step), medianOf(comm)});
  out.step.push_back({"step time", false, estimate.time.step_s, medianOf(times)});
  return out;
}

std::string formatRunAgainstPlan(const RunAgainstPlan& comparison) {
  std::string out = "Planner against the run (estimate for " + comparison.device + ")\n";
  char line[256];
  std::snprintf(line, sizeof line, "  %-5s %-12s %-20s %12s %12s %10s\n", "rank", "mesh", "figure", "predicted", "measured", "error");
  out += line;
  for (const RankAgainstPlan& rank : comparison.ranks) {
    for (const PlanFigure& figure : rank.figures) {
      std::snprintf(line, sizeof line, "  %-5d %-12s %-20s %12s %12s %10s\n", rank.rank, rank.position.c_str(), figure.quantity.c_str(),
                    valueText(figure, figure.predicted).c_str(), valueText(figure, figure.measured).c_str(),
                    percent(figure.relativeError()).c_str());
      out += line;
    }
  }
  out += "Every step (median of the logged steps)\n";
  for (const PlanFigure& figure : comparison.step) {
    std::snprintf(line, sizeof line, "  %-39s %12s %12s %10s\n", figure.quantity.c_str(), valueText(figure, figure.predicted).c_str(),
                  valueText(figure, figure.measured).c_str(), percent(figure.relativeError()).c_str());
    out += line;
  }
  return out;
}

}  // namespace behemoth
