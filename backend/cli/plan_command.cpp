// `behemoth plan PROJECT.json [--search] [--json] [--set key=value ...]`: the memory each device
// will hold and the step time for the project's plan, and with --search the best plans for its
// model, devices and global batch, each marked runnable or not by this build (with the reason).
// `--schedule-json` prints the project's pipeline schedule (parallel.pp_schedule, pp_virtual,
// pp_layers) as action lists instead (docs/pipeline.md). Planning accepts any plan the project
// describes, including strategies this build cannot run yet, so it checks shapes only (not
// availability). `--explain-tp` compares the tensor-parallel modes instead (explain_tp.h).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "backend/cli/commands.h"
#include "backend/cli/explain_tp.h"
#include "backend/cli/schedule_json.h"
#include "backend/planning/auto_plan.h"
#include "backend/planning/plan_checks.h"
#include "backend/planning/plan_device.h"
#include "backend/planning/plan_inputs.h"
#include "backend/planning/plan_report.h"
#include "backend/project/project.h"
#include "memory/chunk_plan.h"
#include "parallel/plan_estimate.h"
#include "parallel/pipeline/stage_layers.h"
#include "parallel/plan_search.h"

namespace behemoth {
namespace {

struct PlanOptions {
  std::string project_path;
  std::vector<std::string> overrides;
  bool search = false;
  bool json = false;
  bool schedule_json = false;
  bool explain_tp = false;
  std::vector<int> explain_devices;  // empty: devices.count
  std::string schedule;    // empty: the project's parallel.pp_schedule
  int virtual_stages = 0;  // 0: the project's parallel.pp_virtual
  std::string recompute;   // empty: the project's train.recompute
  std::string tensor_mode;  // empty: the project's parallel.tp_mode
  int tensor_depth = 0;     // 0: the project's parallel.tp_depth
  bool sequence_parallel = false;
  std::string context_mode;  // empty: the project's parallel.sp_mode
  double optimizer_offload = -1.0;  // < 0: the project's parallel.offload_optimizer
  double parameter_offload = -1.0;  // < 0: the project's (ZeRO-3: parallel.offload_param_fraction)
  long long chunk_elements = -1;    // < 0: the project's (ZeRO-3: parallel.chunk_mb)
  double efficiency = 0.0;   // 0: the device default
  double cpu_flops = 0.0;    // 0: measure the matmul roofline
  int keep = 5;
  int keep_runnable = 1;
};

std::string fixed(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

std::string padded(const std::string& text, std::size_t width) {
  return text.size() >= width ? text + " " : text + std::string(width - text.size(), ' ');
}

TrainingLayout layoutFor(const Project& project, const PlanOptions& options) {
  TrainingLayout layout = layoutFromProject(project);
  if (!options.schedule.empty()) layout.schedule = pipelineScheduleFromName(options.schedule);
  if (options.virtual_stages > 0) layout.virtual_stages = options.virtual_stages;
  if (!options.recompute.empty()) layout.recompute = recomputeFromName(options.recompute);
  if (!options.tensor_mode.empty()) layout.tensor_mode = tensorModeFromName(options.tensor_mode);
  if (options.tensor_depth > 0) layout.tensor_depth = options.tensor_depth;
  if (options.sequence_parallel) layout.sequence_parallel = true;
  if (options.optimizer_offload >= 0) layout.optimizer_offload = options.optimizer_offload;
  if (options.parameter_offload >= 0) layout.parameter_offload = options.parameter_offload;
  if (options.chunk_elements >= 0) layout.chunk_elements = options.chunk_elements;
  layout.validate();
  return layout;
}

DeviceSpec deviceFor(const Project& project, const PlanOptions& options) {
  CpuRateChoice choice;
  choice.cpu_flops = options.cpu_flops;
  choice.efficiency = options.efficiency;
  return planningDevice(project, choice);
}

void printMemoryTable(std::ostream& out, const PlanEstimate& e) {
  const bool small = e.memory.peakDeviceBytes() < (std::int64_t{1} << 30);
  const double unit = small ? double(1 << 20) : double(std::int64_t{1} << 30);
  const char* unit_name = small ? "MiB" : "GiB";
  const bool disk = e.memory.peakDiskBytes() > 0;
  out << "Memory per device (" << unit_name << "; host-offloaded bytes as +host" << (disk ? ", disk as +disk" : "")
      << ")\n";
  out << padded("stage", 6) << padded("layers", 9);
  for (const MemoryTerm& term : e.memory.stages.front().terms) out << padded(term.name, 15);
  out << padded("device", 10) << (disk ? padded("host", 10) + "disk" : std::string("host")) << "\n";
  for (const StageMemory& stage : e.memory.stages) {
    out << padded(std::to_string(stage.stage), 6)
        << padded(std::to_string(stage.first_layer) + "-" + std::to_string(stage.first_layer + stage.layers - 1), 9);
    for (const MemoryTerm& term : stage.terms) {
      std::string cell = fixed(double(term.device_bytes) / unit, 2);
      if (term.host_bytes > 0) cell += "+" + fixed(double(term.host_bytes) / unit, 1) + "h";
      if (term.disk_bytes > 0) cell += "+" + fixed(double(term.disk_bytes) / unit, 1) + "d";
      out << padded(cell, 15);
    }
    out << padded(fixed(double(stage.deviceBytes()) / unit, 2), 10);
    if (disk) {
      out << padded(fixed(double(stage.hostBytes()) / unit, 2), 10) << fixed(double(stage.diskBytes()) / unit, 2) << "\n";
    } else {
      out << fixed(double(stage.hostBytes()) / unit, 2) << "\n";
    }
  }
}

std::string mebibytes(std::int64_t bytes) { return fixed(double(bytes) / double(1 << 20), 2) + " MiB"; }

// ZeRO-3: the chunks the engine will pack, where their shards live and what moves per step.
void printChunkPlan(std::ostream& out, const ChunkPlan& plan) {
  const std::size_t count = plan.chunks.size();
  const int regular = plan.regularChunks();
  out << "ZeRO-3 chunks: " << count << " (" << regular << " of " << plan.chunk_elements << " elements"
      << (static_cast<int>(count) > regular ? " + 1 persistent of " + std::to_string(plan.chunks.back().capacity) : "")
      << "), padding " << plan.paddingElements() << " elements ("
      << fixed(100.0 * double(plan.paddingElements()) / double(std::max<std::int64_t>(1, plan.capacityElements())), 1)
      << " %)\n";
  out << "  per rank: device " << mebibytes(plan.tier_bytes[0]) << ", host " << mebibytes(plan.tier_bytes[1])
      << ", disk " << mebibytes(plan.tier_bytes[2]) << "; device peak " << mebibytes(plan.device_peak_bytes) << " ("
      << plan.max_gathered_chunks << " chunks gathered at '" << plan.widest_stage << "'); moved "
      << mebibytes(plan.moved_bytes_per_step) << " per step\n";
  out << "  chunk shards: device " << plan.chunks_on[0] << ", host " << plan.chunks_on[1] << ", disk "
      << plan.chunks_on[2] << " (parameter and optimizer shard each)\n";
}

// The sp axis: how it splits attention, what each rank keeps and what travels for it.
void printSequenceSplit(std::ostream& out, const ModelDescription& model, const PlanEstimate& e) {
  const TrainingLayout& l = e.layout;
  if (l.sp <= 1) return;
  const std::int64_t tokens = std::int64_t{l.micro_batch_size} * model.seq_len / l.sp;
  out << "Sequence split: sp " << l.sp << ", " << contextModeName(l.context_mode)
      << (l.context_mode == ContextMode::ulysses ? " (all-to-all from sequence to head shards around attention)"
                                                 : " (K/V blocks passed around the sp ring; two zigzag chunks per rank)")
      << "; " << tokens << " tokens per rank per micro-batch, activations 1/" << l.sp << " per rank\n";
  for (const CollectiveLoad& load : e.collectives) {
    if (load.axis != "sp") continue;
    out << "  " << load.what << ": " << load.count << " x " << fixed(double(load.bus_bytes) / 1e6, 3)
        << " MB = " << fixed(double(load.bus_bytes * load.count) / 1e6, 2) << " MB/step per rank\n";
  }
}

void printTime(std::ostream& out, const PlanEstimate& e) {
  const TimeEstimate& t = e.time;
  out << "Step time " << fixed(t.step_s * 1e3, 2) << " ms: compute " << fixed(t.compute_s * 1e3, 2) << ", bubble "
      << fixed(t.bubble_s * 1e3, 2) << ", optimizer " << fixed(t.optimizer_s * 1e3, 2) << ", offload "
      << fixed(t.offload_s * 1e3, 2) << ", exposed communication " << fixed(t.comm_exposed_s * 1e3, 2) << " ms\n";
  for (const AxisTime& axis : t.comm) {
    out << "  " << axis.axis << ": " << fixed(double(axis.bytes) / 1e6, 2) << " MB/step per rank, "
        << fixed(axis.total_s * 1e3, 2) << " ms (" << fixed(axis.exposed_s * 1e3, 2) << " ms exposed)\n";
  }
  out << "Throughput " << fixed(t.tokens_per_s, 0) << " tokens/s (" << fixed(t.tokens_per_s_per_device, 0)
      << " per device), MFU " << fixed(t.mfu * 100, 1) << "% of the peak above\n";
}

void printRankedPlan(std::ostream& out, const RankedPlan& plan) {
  const PlanEstimate& e = plan.estimate;
  out << "  #" << plan.rank << " " << padded(plan.summary, 58) << fixed(e.time.tokens_per_s, 0) << " tok/s  step "
      << fixed(e.time.step_s * 1e3, 2) << " ms  MFU " << fixed(e.time.mfu * 100, 1) << "%  peak "
      << fixed(double(e.memory.peakDeviceBytes()) / 1e9, 1) << " GB  " << (plan.runnable ? "runnable" : "NOT RUNNABLE")
      << "  -- " << plan.reason << "\n";
  if (!plan.runnable) out << "      cannot run: " << plan.not_runnable << "\n";
}

// The fastest plans this build can run, when they are not all among the plans shown above.
void printRunnable(std::ostream& out, const SearchResult& search) {
  if (!search.anythingFits()) return;
  if (search.runnable.empty()) {
    out << "No runnable plan: " << noRunnablePlanMessage(search) << "\n";
    return;
  }
  const std::int64_t shown = search.best.back().rank;
  if (search.runnable.back().rank <= shown) return;
  out << "Fastest runnable plans (`behemoth run --auto-plan` runs the first):\n";
  for (const RankedPlan& plan : search.runnable) printRankedPlan(out, plan);
}

// The project's own schedule (not --schedule, which is what the memory and time tables assume),
// on the world its devices.count makes.
int printScheduleJson(const PlanOptions& options) {
  nlohmann::json out;
  try {
    Project project = loadProject(options.project_path, options.overrides);
    project.plan.resolve(project.devices.count);
    checkPlanShapes(project);
    const Plan& plan = project.plan;
    const std::vector<BlockRange> blocks = virtualStageBlocks(project.model.n_layer, plan.pp, plan.pp_virtual, plan.pp_layers);
    PipelineShape shape;
    shape.stages = plan.pp;
    shape.virtual_stages = plan.pp_virtual;
    shape.micro_batches = project.microBatches();
    out = scheduleJson(pipelineScheduleFromName(plan.pp_schedule), shape, blocks);
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(options.project_path + ": " + error.what());
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}

int planProject(const PlanOptions& options) {
  if (options.schedule_json) return printScheduleJson(options);
  Project project;
  try {
    project = loadProject(options.project_path, options.overrides);
    project.plan.resolve(project.devices.count);
    // --context-mode plans the project as if parallel.sp_mode said it (shapes checked for it too).
    if (!options.context_mode.empty()) project.plan.sp_mode = contextModeName(contextModeFromName(options.context_mode));
    checkPlanShapes(project);
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(options.project_path + ": " + error.what());
  }
  const ModelDescription model = describeModel(project.model);
  const TrainingLayout layout = layoutFor(project, options);
  const DeviceSpec device = deviceFor(project, options);
  if (options.explain_tp) {
    const std::vector<int> counts = options.explain_devices.empty() ? std::vector<int>{project.devices.count} : options.explain_devices;
    std::cout << explainTensorParallel(project, device, counts);
    return 0;
  }
  const MemoryAllowance allowance = defaultAllowance(device.kind);
  const PlanEstimate estimate = estimatePlan(model, layout, device, allowance, project.plan.order);
  std::optional<ChunkPlan> chunks;
  if (chunkPlanApplies(model, layout)) chunks = planChunks(model, layout);

  std::optional<SearchResult> search;
  if (options.search) {
    // Each plan is judged by the validation `behemoth run` applies (docs/planning.md).
    SearchRequest request = autoPlanRequest(project, device);
    request.allowance = allowance;
    request.base = layout;
    request.keep = options.keep;
    request.keep_runnable = options.keep_runnable;
    search = searchPlans(request);
  }

  if (options.json) {
    nlohmann::json out = {{"project", project.name},
                          {"model", modelSummaryToJson(model)},
                          {"device",
                           {{"name", device.name},
                            {"kind", device.kind},
                            {"count", project.devices.count},
                            {"memory_bytes", device.memory_bytes},
                            {"peak_flops", device.peak_flops},
                            {"compute_efficiency", device.compute_efficiency},
                            {"assumed", device.assumed}}},
                          {"plan", planEstimateToJson(estimate)}};
    if (chunks) out["chunks"] = chunkPlanToJson(*chunks);
    if (search) out["search"] = searchResultToJson(*search);
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::ostream& out = std::cout;
  const FlopsPerToken flops = flopsPerToken(model);
  out << "Model " << modelFamilyName(model.family) << ": " << totalParameters(model) << " parameters, "
      << fixed(flops.model() / 1e9, 3) << " GFLOP per token (forward + backward)\n";
  out << "Devices: " << project.devices.count << " x " << device.name << " ("
      << (device.memory_bytes > 0 ? fixed(device.memory_bytes / 1e9, 1) + " GB" : std::string("memory unknown")) << ", "
      << fixed(device.peak_flops / 1e12, 3) << " TFLOP/s peak"
      << (device.kind == "cpu" && options.cpu_flops <= 0 ? " (measured matmul roofline per rank)" : "") << " x "
      << fixed(device.compute_efficiency, 2) << " achievable fraction)"
      << (device.assumed ? " [unknown name: H100 figures assumed]" : "") << "\n";
  out << "Plan: " << describeLayout(layout) << ", " << numericFormatName(layout.precision) << ", "
      << (layout.fused_attention ? "blockwise" : "dense") << " attention\n";
  printSequenceSplit(out, model, estimate);
  out << "\n";
  printMemoryTable(out, estimate);
  if (chunks) printChunkPlan(out, *chunks);
  if (device.memory_bytes > 0) {
    out << (estimate.fits() ? "Fits" : "DOES NOT FIT") << ": peak " << fixed(double(estimate.memory.peakDeviceBytes()) / 1e9, 2)
        << " GB of " << fixed(device.memory_bytes / 1e9, 2) << " GB on stage " << estimate.memory.peakStage() << "\n";
  }
  out << "\n";
  printTime(out, estimate);
  if (search) {
    out << "\nSearch: " << search->message << " (" << fixed(search->seconds, 2) << " s)\n";
    for (const RankedPlan& plan : search->best) printRankedPlan(out, plan);
    printRunnable(out, *search);
  }
  return 0;
}

}  // namespace

void addPlanCommand(CLI::App& app, std::function<int()>& action) {
  auto options = std::make_shared<PlanOptions>();
  CLI::App* command =
      app.add_subcommand("plan", "Memory per device and step time of a project's plan; --search for the best plans");
  command->add_option("project", options->project_path, "Project file (JSON)")->required()->check(CLI::ExistingFile);
  command->add_flag("--search", options->search, "Search every layout of the devices and rank those that fit");
  command->add_flag("--json", options->json, "Print JSON instead of tables");
  command->add_flag("--schedule-json", options->schedule_json,
                    "Print the project's pipeline schedule (action lists per rank and their simulation) as JSON");
  command->add_flag("--explain-tp", options->explain_tp,
                    "Compare 1D, 2D, 2.5D and 3D tensor parallelism: per-device memory, communication, step time, crossovers");
  command->add_option("--explain-devices", options->explain_devices, "Device counts for --explain-tp (default: devices.count)")
      ->delimiter(',');
  command->add_option("--set", options->overrides, "Override a project field: key.path=value")->take_all();
  command->add_option("--schedule", options->schedule, "Pipeline schedule: gpipe, 1f1b, interleaved, zero_bubble (default: parallel.pp_schedule)");
  command->add_option("--virtual-stages", options->virtual_stages, "Model chunks per rank, interleaved (default: parallel.pp_virtual)");
  command->add_option("--recompute", options->recompute, "Activation recomputation: none, selective, full (default: train.recompute)");
  command->add_option("--tensor-mode", options->tensor_mode, "Tensor parallelism: 1d, 2d, 2.5d, 3d (default: parallel.tp_mode)");
  command->add_option("--tensor-depth", options->tensor_depth, "2.5D depth (default: parallel.tp_depth)");
  command->add_flag("--sequence-parallel", options->sequence_parallel, "Megatron sequence parallelism in the tp group");
  command->add_option("--context-mode", options->context_mode, "How sp splits attention: ulysses, ring (default: parallel.sp_mode)");
  command->add_option("--offload-optimizer", options->optimizer_offload, "Fraction of optimizer states on the host (default: parallel.offload_optimizer)");
  command->add_option("--offload-params", options->parameter_offload,
                      "Fraction of parameters on the host (ZeRO-3; default: parallel.offload_param_fraction)");
  command->add_option("--chunk-elements", options->chunk_elements,
                      "ZeRO chunk size in elements (0: none below stage 3, searched at 3; default: parallel.chunk_mb)");
  command->add_option("--efficiency", options->efficiency, "Achievable fraction of the device's peak FLOP/s");
  command->add_option("--cpu-flops", options->cpu_flops, "CPU peak FLOP/s per rank (default: a measured matmul roofline)");
  command->add_option("--keep", options->keep, "Plans the search returns");
  command->add_option("--keep-runnable", options->keep_runnable,
                      "Plans this build can run the search returns too (wherever they rank)");
  command->callback([&action, options] { action = [options] { return planProject(*options); }; });
}

}  // namespace behemoth
