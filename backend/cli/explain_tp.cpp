#include "backend/cli/explain_tp.h"

#include <cstdio>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "backend/planning/plan_inputs.h"
#include "memory/memory_model.h"
#include "parallel/plan_estimate.h"
#include "parallel/tensor_grid/grid_cost.h"
#include "parallel/tensor_grid/tensor_grid.h"

namespace behemoth {
namespace {

std::string bytesText(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024.0 && unit < 4) {
    bytes /= 1024.0;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, unit == 0 ? "%.0f %s" : "%.2f %s", bytes, units[unit]);
  return buffer;
}

std::string fixed(double value, const char* format) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

std::string cell(const std::string& text, std::size_t width) {
  return text.size() >= width ? text + " " : text + std::string(width - text.size(), ' ');
}

// One mode at one tp size: its grid, or why it has none.
struct ModeAtSize {
  std::string mode;
  int depth = 1;
  std::optional<TensorGrid> grid;
};

std::string gridText(const TensorGrid& grid) {
  const std::string q = std::to_string(grid.q);
  switch (grid.mode) {
    case TensorParallelMode::one_d: return std::to_string(grid.q);
    case TensorParallelMode::two_d: return q + "x" + q;
    case TensorParallelMode::two_and_a_half_d: return q + "x" + q + "x" + std::to_string(grid.depth);
    case TensorParallelMode::three_d: return q + "x" + q + "x" + q;
  }
  return q;
}

// The grids of `tp` ranks: 1D, 2D, 2.5D at every depth leaving a square of side >= 2, 3D.
std::vector<ModeAtSize> modesAt(int tp) {
  std::vector<ModeAtSize> modes = {{"1d", 1, TensorGrid::fromPlan(tp, "1d", 1)}};
  const auto tryGrid = [&](const char* mode, int depth) {
    try {
      modes.push_back({mode, depth, TensorGrid::fromPlan(tp, mode, depth)});
    } catch (const std::invalid_argument&) {
      if (depth == 1) modes.push_back({mode, depth, std::nullopt});
    }
  };
  tryGrid("2d", 1);
  bool any_depth = false;
  for (int depth = 2; depth <= tp / 4; ++depth) {
    if (tp % depth != 0) continue;
    const std::size_t before = modes.size();
    tryGrid("2.5d", depth);
    any_depth = any_depth || modes.size() > before;
  }
  if (!any_depth) modes.push_back({"2.5d", 0, std::nullopt});
  tryGrid("3d", 1);
  return modes;
}

struct ModeFigures {
  TensorParallelCost cost;
  PlanEstimate estimate;
};

ModeFigures figuresOf(const ModelDescription& model, const TrainingLayout& base, const TensorGrid& grid,
                      const DeviceSpec& device) {
  TrainingLayout layout = base;
  layout.dp = 1;
  layout.pp = 1;
  layout.sp = 1;
  layout.ep = 1;
  layout.zero = 0;
  layout.tp = grid.size();
  layout.sequence_parallel = false;
  layout.tensor_mode = tensorModeFromName(std::string(tensorParallelModeName(grid.mode)));
  layout.tensor_depth = grid.depth;
  layout.micro_batches = 1;
  TensorParallelWorkload work;
  work.micro_batch = layout.micro_batch_size;
  work.element_bytes = static_cast<int>(layout.activationBytes());
  ModeFigures figures{tensorParallelCost(model, grid, work), estimatePlan(model, layout, device, defaultAllowance(device.kind))};
  return figures;
}

std::int64_t activationBytes(const PlanEstimate& estimate) {
  const StageMemory& stage = estimate.memory.stages.at(estimate.memory.peakStage());
  for (const MemoryTerm& term : stage.terms) {
    if (term.name == kTermActivations) return term.device_bytes + term.host_bytes;
  }
  return 0;
}

void printAtSize(std::ostream& out, const ModelDescription& model, const TrainingLayout& base, const DeviceSpec& device,
                 int devices) {
  out << devices << " devices in one tp group (dp 1), micro-batch " << base.micro_batch_size << " x " << model.seq_len
      << " tokens:\n";
  out << "  " << cell("mode", 6) << cell("grid", 9) << cell("params/device", 15) << cell("activations", 13)
      << cell("tp comm/step", 14) << cell("peak memory", 13) << cell("step (est.)", 13) << "vs 1d\n";
  std::optional<double> one_d_step;
  for (const ModeAtSize& mode : modesAt(devices)) {
    out << "  " << cell(mode.mode, 6);
    if (!mode.grid) {
      out << (mode.mode == "2d" ? std::to_string(devices) + " is not a square\n"
                                : mode.mode == "3d" ? std::to_string(devices) + " is not a cube\n"
                                                    : std::to_string(devices) + " is not q x q x depth (depth >= 2)\n");
      continue;
    }
    if (base.micro_batch_size % mode.grid->sampleChunks() != 0) {
      out << cell(gridText(*mode.grid), 9) << "the micro-batch does not split into " << mode.grid->sampleChunks()
          << " batch chunks\n";
      continue;
    }
    try {
      const ModeFigures f = figuresOf(model, base, *mode.grid, device);
      const double step = f.estimate.time.step_s;
      if (mode.mode == "1d") one_d_step = step;
      std::string notes;
      if (!f.estimate.fits()) notes += "  over the device's memory";
      const int head_split = mode.mode == "1d" ? devices : mode.grid->q;
      if (model.heads % head_split != 0) notes += "  n_head " + std::to_string(model.heads) + " does not split " + std::to_string(head_split) + " ways";
      out << cell(gridText(*mode.grid), 9) << cell(bytesText(double(f.cost.parameter_elements) * base.workingBytes()), 15)
          << cell(bytesText(double(activationBytes(f.estimate))), 13) << cell(bytesText(double(f.cost.totalCommBytes())), 14)
          << cell(bytesText(double(f.estimate.memory.peakDeviceBytes())), 13) << cell(fixed(step, "%.3f s"), 13)
          << cell(one_d_step ? fixed(*one_d_step / step, "%.2fx") : std::string("-"), 6) << notes << "\n";
    } catch (const std::invalid_argument& error) {
      out << cell(gridText(*mode.grid), 9) << error.what() << "\n";
    }
  }
}

// The smallest tp at which each grid mode's per-device communication falls below 1D's.
void printCrossovers(std::ostream& out, const ModelDescription& model, const TrainingLayout& base) {
  const int sizes[] = {4, 8, 9, 16, 18, 25, 27, 32, 36, 49, 50, 64, 72, 81, 98, 100, 125, 128, 144, 162, 196, 200,
                       216, 243, 256, 288, 343, 392, 400, 432, 512, 1000, 1024};
  out << "Crossovers (the smallest tp at which a mode sends fewer bytes per device than 1D at the same tp):\n";
  for (const char* mode : {"2d", "2.5d", "3d"}) {
    std::string found;
    for (int tp : sizes) {
      for (const ModeAtSize& candidate : modesAt(tp)) {
        if (candidate.mode != mode || !candidate.grid || base.micro_batch_size % candidate.grid->sampleChunks() != 0) continue;
        TensorParallelWorkload work;
        work.micro_batch = base.micro_batch_size;
        work.element_bytes = static_cast<int>(base.activationBytes());
        try {
          const std::int64_t grid = tensorParallelCost(model, *candidate.grid, work).totalCommBytes();
          const std::int64_t one_d = tensorParallelCost(model, TensorGrid::fromPlan(tp, "1d", 1), work).totalCommBytes();
          if (grid < one_d) {
            found = "tp " + std::to_string(tp) + " (" + gridText(*candidate.grid) + "): " + bytesText(double(grid)) +
                    " against " + bytesText(double(one_d));
          }
        } catch (const std::invalid_argument&) {
        }
        if (!found.empty()) break;
      }
      if (!found.empty()) break;
    }
    out << "  " << cell(mode, 6) << (found.empty() ? "never up to tp 1024 (at this model and micro-batch)" : found) << "\n";
  }
}

}  // namespace

std::string explainTensorParallel(const Project& project, const DeviceSpec& device, const std::vector<int>& device_counts) {
  const ModelDescription model = describeModel(project.model);
  const TrainingLayout base = layoutFromProject(project);
  std::ostringstream out;
  out << "Tensor parallelism for " << project.name << ": " << modelFamilyName(model.family) << ", " << model.layers
      << " layers, d_model " << model.d_model << ", " << model.heads << " heads, vocabulary " << model.vocab << ", on "
      << device.name << "\n";
  out << "(parallel/tensor_grid/grid_cost.h: the engine's own collectives; the parity tests hold the engine to them)\n\n";
  for (int devices : device_counts) {
    if (devices < 1) throw std::invalid_argument("--explain-devices: " + std::to_string(devices) + " is not a device count");
    printAtSize(out, model, base, device, devices);
    out << "\n";
  }
  printCrossovers(out, model, base);
  out << "\nThe papers' measurements (against Megatron 1D on the same GPUs):\n"
      << "  2d    Optimus (arXiv 2104.05343), 64 GPUs: 1.48x training, 1.78x inference\n"
      << "  2.5d  Tesseract (arXiv 2105.14500): 1.38x over 1D, 1.53x over 2D (strong scaling)\n"
      << "  3d    Bian et al. (arXiv 2105.14450), 64 V100: 2.32x over 1D, 1.57x over 2D\n";
  return out.str();
}

}  // namespace behemoth
