#include "parallel/plan_search.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>

#include "parallel/tensor_grid/tensor_grid.h"

namespace behemoth {
namespace {

constexpr double kGiB = double(std::int64_t{1} << 30);

std::vector<int> divisors(int n) {
  std::vector<int> result;
  for (int k = 1; k <= n; ++k) {
    if (n % k == 0) result.push_back(k);
  }
  return result;
}

std::string fixed(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

// Shapes the engine can split (the same rules as the project validator's per-axis checks).
bool tensorSplits(const ModelDescription& m, int tp) {
  if (m.heads % tp != 0 || m.ffn_hidden % tp != 0 || m.vocab % tp != 0) return false;
  return m.kv_heads % tp == 0 || tp % m.kv_heads == 0;
}

// The sp modes the model's shapes allow at tp x sp, as the engine checks them before launch
// (docs/long-context.md). The search turns Megatron-SP on at tp > 1, so the sequence shard also
// splits over tp. Ulysses gives each rank heads/(tp*sp) query heads and as many key/value heads;
// ring gives each rank two zigzag chunks of the sequence.
std::vector<ContextMode> contextModes(const ModelDescription& m, int tp, int sp) {
  const int sequence_split = tp > 1 ? tp : 1;
  std::vector<ContextMode> modes;
  if (m.seq_len % (sp * sequence_split) == 0 && m.heads % (tp * sp) == 0 && m.kv_heads % (tp * sp) == 0) {
    modes.push_back(ContextMode::ulysses);
  }
  if (m.seq_len % (2 * sp * sequence_split) == 0) modes.push_back(ContextMode::ring);
  return modes;
}

// What plans are ranked by: throughput, then lower peak memory (a tie keeps the roomier plan).
struct Score {
  double tokens_per_s;
  std::int64_t peak_bytes;
};

Score scoreOf(const PlanEstimate& e) { return {e.time.tokens_per_s, e.memory.peakDeviceBytes()}; }

bool fasterScore(const Score& a, const Score& b) {
  if (a.tokens_per_s != b.tokens_per_s) return a.tokens_per_s > b.tokens_per_s;
  return a.peak_bytes < b.peak_bytes;
}

bool faster(const PlanEstimate& a, const PlanEstimate& b) { return fasterScore(scoreOf(a), scoreOf(b)); }

// The time components two plans are compared by.
std::vector<std::pair<std::string, double>> components(const TimeEstimate& t) {
  std::vector<std::pair<std::string, double>> parts = {{"compute (incl. recomputation)", t.compute_s},
                                                       {"pipeline bubble", t.bubble_s},
                                                       {"optimizer update", t.optimizer_s},
                                                       {"offload transfers", t.offload_s}};
  for (const auto& axis : t.comm) parts.emplace_back("exposed " + axis.axis + " communication", axis.exposed_s);
  return parts;
}

double componentOf(const std::vector<std::pair<std::string, double>>& parts, const std::string& name) {
  for (const auto& [n, v] : parts) {
    if (n == name) return v;
  }
  return 0.0;
}

std::string whyAhead(const PlanEstimate& a, const PlanEstimate& b) {
  const double gain = b.time.step_s / a.time.step_s - 1.0;
  const auto pa = components(a.time);
  const auto pb = components(b.time);
  std::string best_name;
  double best_saving = 0;
  for (const auto& [name, value] : pb) {
    const double saving = value - componentOf(pa, name);
    if (saving > best_saving) {
      best_saving = saving;
      best_name = name;
    }
  }
  std::string text = fixed(gain * 100.0, 1) + "% faster than the next";
  if (!best_name.empty()) text += ": " + fixed(best_saving * 1e3, 1) + " ms less " + best_name + " per step";
  if (gain == 0.0) {
    const double less = double(b.memory.peakDeviceBytes() - a.memory.peakDeviceBytes()) / kGiB;
    text = less >= 0.005 ? "as fast as the next, with " + fixed(less, 2) + " GiB less memory per device"
                         : "equivalent to the next (same predicted time and memory)";
  }
  return text;
}

// Keeps the `keep` fastest plans without storing every candidate.
class TopPlans {
 public:
  explicit TopPlans(int keep) : keep_(std::max(1, keep)) {}
  bool wouldKeep(const PlanEstimate& estimate) const {
    return static_cast<int>(plans_.size()) < keep_ || faster(estimate, plans_.back());
  }
  void offer(PlanEstimate estimate) {
    if (!wouldKeep(estimate)) return;
    auto at = std::upper_bound(plans_.begin(), plans_.end(), estimate, faster);
    plans_.insert(at, std::move(estimate));
    if (static_cast<int>(plans_.size()) > keep_) plans_.pop_back();
  }
  std::vector<PlanEstimate>& plans() { return plans_; }

 private:
  int keep_;
  std::vector<PlanEstimate> plans_;
};

}  // namespace

std::string describeLayout(const TrainingLayout& l) {
  std::string text = "dp" + std::to_string(l.dp) + " tp" + std::to_string(l.tp) + " pp" + std::to_string(l.pp);
  if (l.sp > 1) text += " sp" + std::to_string(l.sp) + "(" + contextModeName(l.context_mode) + ")";
  if (l.ep > 1) text += " ep" + std::to_string(l.ep);
  text += " zero" + std::to_string(l.zero);
  text += " mb" + std::to_string(l.micro_batch_size) + "x" + std::to_string(l.micro_batches);
  if (l.pp > 1) {
    text += " " + pipelineScheduleName(l.schedule);
    if (l.virtual_stages > 1) text += "(v" + std::to_string(l.virtual_stages) + ")";
  }
  if (l.tp > 1 && l.tensor_mode != TensorMode::one_d) text += " tp-" + tensorModeName(l.tensor_mode);
  if (l.tp > 1 && l.sequence_parallel) text += " seq-par";
  if (l.recompute != Recompute::none) text += " recompute-" + recomputeName(l.recompute);
  if (l.optimizer_offload > 0) text += " offload-opt" + fixed(l.optimizer_offload, 2);
  if (l.parameter_offload > 0) text += " offload-param" + fixed(l.parameter_offload, 2);
  return text;
}

namespace {

struct Offload {
  double optimizer;
  double parameters;
};

// Every axis-size combination the model's shapes and the batch allow, with each sp mode they allow:
// sizes and the sp mode only, dp last.
std::vector<TrainingLayout> axisLayouts(const SearchRequest& request) {
  const ModelDescription& model = request.model;
  const int n = request.devices;
  const int node = request.device.per_node > 0 ? request.device.per_node : n;
  std::vector<TrainingLayout> layouts;
  for (int tp : divisors(n)) {
    if (tp > 1 && (!request.allow_tensor || tp > node || !tensorSplits(model, tp))) continue;
    for (int pp : divisors(n / tp)) {
      if (pp > model.layers || (pp > 1 && !request.allow_pipeline)) continue;
      for (int sp : divisors(n / (tp * pp))) {
        if (sp > 1 && !request.allow_context) continue;
        // At sp 1 the mode changes nothing: the project's stays.
        const std::vector<ContextMode> modes =
            sp > 1 ? contextModes(model, tp, sp) : std::vector<ContextMode>{request.base.context_mode};
        for (ContextMode mode : modes) {
          for (int ep : divisors(n / (tp * pp * sp))) {
            if (ep > 1 && model.experts % ep != 0) continue;
            const int dp = n / (tp * pp * sp * ep);
            if (request.global_batch % (std::int64_t{dp} * ep) != 0) continue;
            TrainingLayout layout = request.base;
            layout.dp = dp;
            layout.tp = tp;
            layout.pp = pp;
            layout.sp = sp;
            layout.ep = ep;
            layout.context_mode = mode;
            layouts.push_back(layout);
          }
        }
      }
    }
  }
  return layouts;
}

// The 2D, 2.5D (every depth) and 3D grids of layout's tp ranks whose batch chunks divide its
// micro-batch, Megatron-SP off (grids split the sequence's tokens themselves).
std::vector<TrainingLayout> gridVariants(const TrainingLayout& layout) {
  std::vector<std::pair<const char*, int>> candidates = {{"2d", 1}, {"3d", 1}};
  for (int depth = 2; depth <= layout.tp / 4; ++depth) {
    if (layout.tp % depth == 0) candidates.emplace_back("2.5d", depth);
  }
  std::vector<TrainingLayout> grids;
  for (const auto& [mode, depth] : candidates) {
    TensorGrid grid;
    try {
      grid = TensorGrid::fromPlan(layout.tp, mode, depth);
    } catch (const std::invalid_argument&) {
      continue;  // tp is not this grid's shape
    }
    if (layout.micro_batch_size % grid.sampleChunks() != 0) continue;
    TrainingLayout variant = layout;
    variant.tensor_mode = tensorModeFromName(mode);
    variant.tensor_depth = depth;
    variant.sequence_parallel = false;
    grids.push_back(variant);
  }
  return grids;
}


// Micro-batching, schedule, ZeRO, recomputation and offload for one axis layout.
template <typename Visit>
void forEachOption(const SearchRequest& request, const TrainingLayout& axes, Visit&& visit) {
  std::vector<Recompute> recomputes = {Recompute::none};
  if (request.allow_recompute) recomputes = {Recompute::none, Recompute::selective, Recompute::full};
  std::vector<Offload> offloads = {{0.0, 0.0}};
  // On a CPU the host is the device: offloading moves nothing.
  if (request.allow_offload && request.device.kind != "cpu") offloads = {{0.0, 0.0}, {1.0, 0.0}, {1.0, 0.5}, {1.0, 1.0}};
  const std::int64_t local = request.global_batch / (std::int64_t{axes.dp} * axes.ep);
  const auto largest = static_cast<int>(std::min<std::int64_t>(local, request.max_micro_batch_size));
  for (int mbs = 1; mbs <= largest; ++mbs) {
    if (local % mbs != 0) continue;
    const int micro_batches = static_cast<int>(local / mbs);
    std::vector<std::pair<PipelineSchedule, int>> schedules = {{PipelineSchedule::one_f_one_b, 1}};
    if (axes.pp > 1 && request.model.layers % (2 * axes.pp) == 0 && micro_batches % axes.pp == 0) {
      schedules.emplace_back(PipelineSchedule::interleaved, 2);
    }
    for (const auto& [schedule, virtual_stages] : schedules) {
      for (int zero = 0; zero <= 3; ++zero) {
        for (Recompute recompute : recomputes) {
          for (const Offload& offload : offloads) {
            // ZeRO at dp = 1 is the same math as none, except that the engine offloads the
            // optimizer only from a ZeRO partition (and parameters only from ZeRO-3 chunks).
            if (zero > 0 && axes.dp == 1 && offload.optimizer == 0.0) continue;
            if (offload.optimizer > 0 && zero == 0) continue;
            if (offload.parameters > 0 && zero != 3) continue;
            TrainingLayout layout = axes;
            layout.zero = zero;
            layout.tensor_mode = TensorMode::one_d;
            // Megatron-SP: activation memory outside the matmuls falls by tp, for one extra all-gather
            // per column-parallel input in backward; the time model weighs that traffic.
            layout.sequence_parallel = axes.tp > 1;
            layout.schedule = schedule;
            layout.virtual_stages = virtual_stages;
            layout.micro_batch_size = mbs;
            layout.micro_batches = micro_batches;
            layout.recompute = recompute;
            layout.optimizer_offload = offload.optimizer;
            layout.parameter_offload = offload.parameters;
            visit(layout);
            // The same tp ranks as 2D / 2.5D / 3D grids, where the engine runs them (not with
            // ZeRO-3) and the micro-batch splits into the grid's batch chunks.
            if (axes.tp > 1 && zero < 3) {
              for (const TrainingLayout& grid : gridVariants(layout)) visit(grid);
            }
          }
        }
      }
    }
  }
}

// Plans fastest first, each with its reason against the next and its rank among all that fit.
std::vector<RankedPlan> rankedPlans(std::vector<PlanEstimate>& plans, const std::vector<Score>& fitting) {
  std::vector<RankedPlan> ranked_plans;
  for (std::size_t k = 0; k < plans.size(); ++k) {
    RankedPlan ranked;
    ranked.summary = describeLayout(plans[k].layout);
    ranked.reason = k + 1 < plans.size() ? whyAhead(plans[k], plans[k + 1])
                                         : "the last of the best " + std::to_string(plans.size()) + " kept";
    const Score score = scoreOf(plans[k]);
    ranked.rank = 1 + std::count_if(fitting.begin(), fitting.end(), [&](const Score& other) { return fasterScore(other, score); });
    ranked.estimate = std::move(plans[k]);
    ranked_plans.push_back(std::move(ranked));
  }
  return ranked_plans;
}

}  // namespace

SearchResult searchPlans(const SearchRequest& request) {
  const auto started = std::chrono::steady_clock::now();
  const ModelDescription& model = request.model;
  model.validate();
  if (request.devices < 1) throw std::invalid_argument("devices.count: must be >= 1");
  if (request.global_batch < 1) throw std::invalid_argument("data.global_batch_size: must be >= 1");
  const int n = request.devices;

  SearchResult result;
  result.judged = static_cast<bool>(request.why_not_runnable);
  TopPlans top(request.keep);
  // Judging a plan runs the project validation: only those that would enter the runnable list are.
  TopPlans top_runnable(request.keep_runnable);
  std::vector<Score> fitting_scores;  // every fitting plan's, for the ranks
  std::optional<PlanEstimate> closest;
  for (const TrainingLayout& axes : axisLayouts(request)) {
    forEachOption(request, axes, [&](const TrainingLayout& layout) {
      PlanEstimate estimate = estimatePlan(model, layout, request.device, request.allowance);
      ++result.evaluated;
      const bool host_fits =
          request.host_memory_bytes <= 0 || double(estimate.memory.peakHostBytes()) <= request.host_memory_bytes;
      if (estimate.fits() && host_fits) {
        ++result.fitting;
        fitting_scores.push_back(scoreOf(estimate));
        if (result.judged && top_runnable.wouldKeep(estimate) && request.why_not_runnable(estimate.layout).empty()) {
          top_runnable.offer(estimate);
        }
        top.offer(std::move(estimate));
      } else if (!estimate.fits() && (!closest || estimate.shortfall_bytes < closest->shortfall_bytes)) {
        closest = std::move(estimate);
      }
    });
  }

  result.best = rankedPlans(top.plans(), fitting_scores);
  result.runnable = rankedPlans(top_runnable.plans(), fitting_scores);
  if (result.judged) {
    for (RankedPlan& plan : result.best) {
      plan.not_runnable = request.why_not_runnable(plan.estimate.layout);
      plan.runnable = plan.not_runnable.empty();
    }
  }
  const double capacity_gib = request.device.memory_bytes / kGiB;
  if (!result.best.empty()) {
    const auto& first = result.best.front().estimate;
    result.message = std::to_string(result.fitting) + " of " + std::to_string(result.evaluated) +
                     " layouts fit; best: " + result.best.front().summary + " at " +
                     fixed(first.time.tokens_per_s, 0) + " tokens/s, " +
                     fixed(double(first.memory.peakDeviceBytes()) / kGiB, 1) + " GiB peak per device";
  } else if (closest) {
    RankedPlan miss;
    miss.summary = describeLayout(closest->layout);
    const double needed = double(closest->memory.peakDeviceBytes()) / kGiB;
    const double short_by = double(closest->shortfall_bytes) / kGiB;
    miss.reason = "needs " + fixed(needed, 2) + " GiB on stage " + std::to_string(closest->memory.peakStage()) +
                  ", " + fixed(short_by, 2) + " GiB more than the " + fixed(capacity_gib, 2) + " GiB per device";
    result.message = "no layout of " + std::to_string(n) + " devices fits (" + std::to_string(result.evaluated) +
                     " tried); the closest, " + miss.summary + ", " + miss.reason;
    miss.estimate = std::move(*closest);
    result.closest = std::move(miss);
  } else {
    result.message = "no valid layout: the global batch " + std::to_string(request.global_batch) +
                     " or the model's shapes do not divide over " + std::to_string(n) + " devices";
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace behemoth
