#include "memory/time_model.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "memory/memory_model.h"

namespace behemoth {
namespace {

constexpr double kGB = 1e9;
constexpr double kTera = 1e12;

DeviceSpec hopper(const std::string& name, double memory_gb, double hbm_tb_s, NumericFormat precision) {
  DeviceSpec d;
  d.name = name;
  d.kind = "cuda";
  d.peak_flops = (precision == NumericFormat::fp32 ? 67.0 : 989.0) * kTera;
  d.memory_bytes = memory_gb * kGB;
  d.memory_bandwidth = hbm_tb_s * kTera;
  d.intra_node_bandwidth = 360 * kGB;  // NVLink 4: 450 GB/s per direction
  d.inter_node_bandwidth = 40 * kGB;   // 400 Gb/s NDR per GPU = 50 GB/s
  d.host_link_bandwidth = 50 * kGB;    // PCIe 5 x16: 64 GB/s
  d.latency_s = 10e-6;
  d.per_node = 8;
  return d;
}

}  // namespace

DeviceSpec deviceSpec(const std::string& kind, const std::string& name, NumericFormat precision) {
  if (kind == "cpu") {
    DeviceSpec d;
    d.name = name.empty() ? "cpu" : name;
    d.kind = "cpu";
    d.peak_flops = 20e9;          // replace with a measurement (backend/planning/cpu_rate)
    d.compute_efficiency = 1.0;   // a measured rate is already achievable
    d.memory_bytes = 0;
    d.memory_bandwidth = 10 * kGB;
    d.intra_node_bandwidth = 1 * kGB;  // gloo over loopback TCP
    d.inter_node_bandwidth = 1 * kGB;
    d.latency_s = 100e-6;
    d.host_link_bandwidth = 10 * kGB;
    d.host_update_rate = 1e9;
    d.per_node = 0;
    return d;
  }
  std::string upper = name;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return char(std::toupper(c)); });
  if (upper.find("H200") != std::string::npos) return hopper(name, 141, 4.8, precision);
  if (upper.find("A100") != std::string::npos) {
    DeviceSpec d = hopper(name, 80, 2.0, precision);
    d.peak_flops = (precision == NumericFormat::fp32 ? 19.5 : 312.0) * kTera;
    d.intra_node_bandwidth = 230 * kGB;  // NVLink 3: 300 GB/s per direction
    d.inter_node_bandwidth = 20 * kGB;   // 200 Gb/s HDR per GPU = 25 GB/s
    d.host_link_bandwidth = 25 * kGB;    // PCIe 4 x16: 32 GB/s
    return d;
  }
  DeviceSpec d = hopper(name.empty() ? "H100" : name, 80, 3.35, precision);
  d.assumed = upper.find("H100") == std::string::npos;
  return d;
}

std::string collectiveKindName(CollectiveKind kind) {
  switch (kind) {
    case CollectiveKind::all_reduce: return "all_reduce";
    case CollectiveKind::reduce_scatter: return "reduce_scatter";
    case CollectiveKind::all_gather: return "all_gather";
    case CollectiveKind::all_to_all: return "all_to_all";
    case CollectiveKind::broadcast: return "broadcast";
    case CollectiveKind::send_recv: return "send_recv";
  }
  return "?";
}

double bubbleFraction(const TrainingLayout& layout) {
  if (layout.pp == 1) return 0.0;
  const double fill = layout.pp - 1;
  const double m = layout.micro_batches;
  switch (layout.schedule) {
    case PipelineSchedule::gpipe:
    case PipelineSchedule::one_f_one_b: return fill / m;
    case PipelineSchedule::interleaved: return fill / (layout.virtual_stages * m);
    case PipelineSchedule::zero_bubble: return fill / (3.0 * m);
  }
  return fill / m;
}

TimeEstimate estimateTime(const ModelDescription& model, const TrainingLayout& layout, const DeviceSpec& device,
                          const std::vector<CollectiveLoad>& collectives) {
  model.validate();
  layout.validate();
  const FlopsPerToken flops = flopsPerToken(model);
  double hardware_per_token = flops.model();
  if (layout.recompute == Recompute::full) hardware_per_token += flops.recompute_full;
  if (layout.recompute == Recompute::selective) hardware_per_token += flops.recompute_selective;
  const double tokens = static_cast<double>(layout.globalBatch()) * model.seq_len;
  const double world = layout.worldSize();
  const double rate = device.peak_flops * device.compute_efficiency;

  TimeEstimate t;
  t.model_flops_per_token = flops.model();
  t.compute_s = tokens * hardware_per_token / world / rate;
  t.bubble_s = bubbleFraction(layout) * t.compute_s;
  // Backward (with its recomputation) of the last micro-batch: what a gradient reduction started
  // during backward can hide behind.
  const double backward_share = (hardware_per_token - flops.forward) / hardware_per_token;
  const double last_backward_s = t.compute_s * backward_share / layout.micro_batches;

  const auto call_seconds = [&device](const CollectiveLoad& load) {
    const double bandwidth = load.intra_node ? device.intra_node_bandwidth : device.inter_node_bandwidth;
    return double(load.bus_bytes) / bandwidth + device.latency_s;
  };
  std::map<std::string, AxisTime> by_axis;
  std::map<OverlapWindow, std::pair<double, double>> window_sum_and_largest;
  for (const CollectiveLoad& load : collectives) {
    if (load.count == 0 || load.bus_bytes == 0) continue;
    const double call_s = call_seconds(load);
    const double total_s = call_s * double(load.count);
    AxisTime& axis = by_axis[load.axis];
    axis.axis = load.axis;
    axis.bytes += load.bus_bytes * load.count;
    axis.total_s += total_s;
    const bool hideable = load.window != OverlapWindow::none && layout.overlap;
    if (!hideable) {
      axis.exposed_s += total_s;
      continue;
    }
    auto& [sum, largest] = window_sum_and_largest[load.window];
    sum += total_s;
    largest = std::max(largest, call_s);
  }
  // Overlapped traffic shows only where it outlasts its window. A gradient reduction shows at
  // least its last call (the last bucket starts when backward ends); traffic overlapped with all
  // of compute (ZeRO-3 gathers, ring attention) is prefetched layer by layer and can vanish.
  // Exposed time is charged to the axes by their share of the window's traffic.
  for (auto& [window, sums] : window_sum_and_largest) {
    const bool gradients = window == OverlapWindow::last_backward;
    const double available = gradients ? last_backward_s : t.compute_s;
    const double exposed = std::max(gradients ? sums.second : 0.0, sums.first - available);
    for (const CollectiveLoad& load : collectives) {
      if (load.window == window && load.count > 0 && load.bus_bytes > 0) {
        const double share = call_seconds(load) * double(load.count);
        by_axis[load.axis].exposed_s += exposed * share / sums.first;
      }
    }
  }
  for (auto& [name, axis] : by_axis) {
    t.comm.push_back(axis);
    t.comm_exposed_s += axis.exposed_s;
    t.comm_bytes += axis.bytes;
  }

  // Optimizer update: AdamW reads parameter, gradient and both moments and writes three of them
  // (7 fp32 words); mixed precision also reads the fp32 gradient copy and writes the 16-bit weight.
  const auto counts = stageParameterCounts(model, layout);
  const std::int64_t stage_params = *std::max_element(counts.begin(), counts.end());
  const double owned = layout.zero >= 1 ? double((stage_params + layout.dp - 1) / layout.dp) : double(stage_params);
  const bool fp32 = layout.precision == NumericFormat::fp32;
  const double bytes_per_update = fp32 ? 28.0 : 36.0;
  const double x = layout.optimizer_offload;
  t.optimizer_s = (1.0 - x) * owned * bytes_per_update / device.memory_bandwidth + x * owned / device.host_update_rate;
  const double param_bytes = fp32 ? 4.0 : 2.0;
  if (device.host_link_bandwidth > 0) {
    // Offloaded optimizer: gradients down, updated weights up, once per step.
    t.offload_s = x * owned * 2.0 * param_bytes / device.host_link_bandwidth;
    // Offloaded parameters: fetched for forward and again for backward of every micro-batch.
    const double held = layout.zero >= 3 ? double(stage_params) : 0.0;
    t.offload_s += layout.parameter_offload * held * param_bytes * 2.0 * layout.micro_batches / device.host_link_bandwidth;
  }

  t.step_s = t.compute_s + t.bubble_s + t.comm_exposed_s + t.optimizer_s + t.offload_s;
  t.tokens_per_s = tokens / t.step_s;
  t.tokens_per_s_per_device = t.tokens_per_s / world;
  t.mfu = tokens * flops.model() / t.step_s / (world * device.peak_flops);
  t.hfu = tokens * hardware_per_token / t.step_s / (world * device.peak_flops);
  return t;
}

}  // namespace behemoth
