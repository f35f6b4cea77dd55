#include "parallel/zero3/zero3_engine.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <thread>

#include "kernels/cpu_adamw.h"
#include "kernels/sum_of_squares.h"
#include "kernels/tensor_adamw.h"
#include "memory/device_tier.h"
#include "memory/disk_tier.h"
#include "memory/tensor_state.h"
#include "parallel/gradient_ready_hooks.h"
#include "parallel/zero/test_hooks.h"
#include "parallel/zero3/operator_observer.h"

namespace behemoth {
namespace {

std::string mib(std::int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

// MiB for reading, bytes for the cases where two figures round alike.
std::string mibAndBytes(std::int64_t bytes) { return mib(bytes) + " (" + std::to_string(bytes) + " bytes)"; }

std::int64_t bytesOf(const at::Tensor& t) { return t.defined() ? t.numel() * static_cast<std::int64_t>(t.element_size()) : 0; }

// Identity in forward; in backward it tells the engine that `stage`'s backward comes next, so its
// chunks are gathered before autograd needs their values.
struct StageBackwardEntry : public torch::autograd::Function<StageBackwardEntry> {
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& input, std::int64_t engine,
                            std::int64_t stage) {
    context->saved_data["engine"] = engine;
    context->saved_data["stage"] = stage;
    return input.view_as(input);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grads) {
    auto* engine = reinterpret_cast<Zero3Engine*>(context->saved_data["engine"].toInt());
    engine->beforeStageBackward(static_cast<int>(context->saved_data["stage"].toInt()));
    return {grads[0], at::Tensor(), at::Tensor()};
  }
};

// A piece of one parameter inside this rank's shard of a chunk.
struct ShardSegment {
  std::size_t param = 0;
  std::int64_t param_offset = 0;  // inside the flattened parameter
  std::int64_t shard_offset = 0;  // inside the rank's shard of the chunk
  std::int64_t numel = 0;
};

}  // namespace

// One chunk's storage on this rank.
struct Chunk {
  ChunkSpec spec;
  std::int64_t shard = 0;       // elements of this rank's shard
  at::Tensor payload;           // capacity elements, working dtype, device tier; bytes only while gathered
  bool gathered = false;
  Tier param_tier = Tier::device;
  Tier optim_tier = Tier::device;
  at::Tensor param_shard;       // working dtype, on param_tier
  at::Tensor grad;              // fp32, on optim_tier
  at::Tensor master;            // fp32, on optim_tier; undefined when param_shard is the master
  at::Tensor exp_avg;
  at::Tensor exp_avg_sq;
  std::vector<ShardSegment> segments;
  bool reduced = false;         // this micro-batch's gradient is reduce-scattered
};

struct Zero3Engine::State {
  std::vector<at::Tensor> params;
  std::vector<std::string> names;
  std::vector<bool> decay;
  StageUses uses;
  Group& dp;
  Zero3Options options;
  ChunkLayout layout;
  at::ScalarType working_dtype;
  DeviceTier device;
  std::unique_ptr<DiskTier> disk;
  std::vector<Chunk> chunks;
  std::vector<TensorState> states;
  std::vector<std::vector<std::size_t>> stage_chunks;  // regular chunks each stage uses
  std::vector<std::size_t> reduce_order;               // the fixed order chunks are reduced in
  std::size_t next_to_reduce = 0;
  std::vector<bool> chunk_complete;                    // every tensor has its gradient
  std::vector<int> pending_grads;                      // per chunk: tensors still without one
  bool in_backward = false;
  std::int64_t updates = 0;
  std::int64_t steps_called = 0;  // step() calls, skipped ones included (the test hook's index)
  std::optional<LossScaler> scaler;
  TierLedger ledger;
  std::int64_t device_peak = 0;
  std::int64_t host_bytes = 0;  // parameter and optimizer shards in host memory
  // auto placement: the most non-model bytes seen at each position of the use sequence, at any
  // operator of the traced first step; the operators seen there, and the bytes at the position's entry.
  std::vector<std::int64_t> non_model_trace;
  std::vector<std::int64_t> trace_operators;
  std::vector<std::int64_t> trace_entry_bytes;
  bool traced = false;
  int position = 0;
  bool in_stage = false;                // between a stage's entry and the step's reduction
  bool in_step = false;                 // between zeroGrad() and the end of step()
  std::int64_t non_model_baseline = 0;  // live bytes outside the tiers when the step began
  // Memory at every operator (auto placement, or a budget to check): on the thread that trains.
  std::unique_ptr<OperatorObserver> operator_observer;
  std::thread::id training_thread = std::this_thread::get_id();
  std::string overrun;  // the first budget overrun an operator saw; thrown at the next engine call
  // fullParameter's last gathered chunk (host memory), dropped when the parameters change.
  std::size_t full_chunk = 0;
  at::Tensor full_values;
  std::unique_ptr<GradientReadyHooks> gradient_hooks;

  State(std::vector<at::Tensor> p, std::vector<std::string> n, std::vector<bool> d, StageUses u, Group& g,
        Zero3Options o, ChunkLayout l)
      : params(std::move(p)), names(std::move(n)), decay(std::move(d)), uses(std::move(u)), dp(g),
        options(std::move(o)), layout(std::move(l)), working_dtype(params.front().scalar_type()) {}

  int stages() const { return static_cast<int>(uses.uses.size()); }
  int positions() const { return 2 * stages(); }
  int forwardPosition(int stage) const { return stage; }
  int backwardPosition(int stage) const { return positions() - 1 - stage; }
  int stageAt(int position) const { return position < stages() ? position : positions() - 1 - position; }
  std::int64_t workingBytes() const { return static_cast<std::int64_t>(c10::elementSize(working_dtype)); }
  bool persistent(std::size_t c) const { return chunks[c].spec.persistent; }

  // The working values from fp32 ones: rounded to fp16 where the options say so.
  void setWorking(at::Tensor& working, const at::Tensor& values) const {
    working.copy_(options.round_working_to ? values.to(*options.round_working_to) : values);
  }

  at::Tensor onTier(Tier tier, std::int64_t numel, at::ScalarType dtype, std::int64_t& disk_offset) {
    switch (tier) {
      case Tier::device: return device.empty(numel, dtype).zero_();
      case Tier::host: return at::zeros({numel}, at::TensorOptions().dtype(dtype));
      case Tier::disk: {
        at::Tensor t = disk->floats(disk_offset, numel);
        disk_offset += numel;
        return t.zero_();
      }
    }
    return {};
  }

  // What the step allocated beside the chunks (activations, gradients, temporaries): the growth of
  // live tensor bytes since the step began. Host-tier shards are ordinary CPU tensors, which the
  // counting allocator sees too, so they are taken out; what lived before the step (the corpus,
  // the batch sampler) is host data, not the device's.
  std::int64_t liveOutsideTiers() const {
    return options.live_tensor_bytes ? options.live_tensor_bytes() - host_bytes : 0;
  }
  std::int64_t nonModelBytes() const { return std::max<std::int64_t>(0, liveOutsideTiers() - non_model_baseline); }

  std::int64_t tierBytes(Tier tier) const {
    if (tier == Tier::device) return device.liveBytes();
    if (tier == Tier::host) return host_bytes;
    std::int64_t bytes = 0;
    for (const Chunk& c : chunks) {
      if (c.param_tier == tier) bytes += bytesOf(c.param_shard);
      if (c.optim_tier == tier) bytes += bytesOf(c.grad) + bytesOf(c.master) + bytesOf(c.exp_avg) + bytesOf(c.exp_avg_sq);
    }
    return bytes;
  }

  // The device tier plus the non-model tensors beside it, checked against the budget at every
  // gather and prefetch: exceeding it is an error, never a silent overrun.
  void checkBudget(const char* doing, std::size_t chunk) {
    throwIfOverrun();
    const std::int64_t used = device.liveBytes() + nonModelBytes();
    device_peak = std::max(device_peak, used);
    const std::int64_t budget = options.device_budget_bytes;
    if (budget > 0 && used > budget) {
      throw std::runtime_error(overBudget(std::string(doing) + " chunk " + std::to_string(chunk), used));
    }
  }

  std::string overBudget(const std::string& doing, std::int64_t used) const {
    return "parallel.device_budget_mb: rank " + std::to_string(options.world_rank) + " " + doing + " at " +
           ledger.stage() + " (" + ledger.phase() + ") needs " + mibAndBytes(used) + " on the device (" +
           mib(device.liveBytes()) + " of chunks, the rest non-model), over the budget of " +
           mibAndBytes(options.device_budget_bytes);
  }

  // An operator cannot throw from inside its bookkeeping: the overrun it saw surfaces at the next
  // gather, stage boundary, reduction or update.
  void throwIfOverrun() {
    if (overrun.empty()) return;
    const std::string message = std::move(overrun);
    overrun.clear();
    throw std::runtime_error(message);
  }

  // At every operator of the training thread: the device's use (its peak, the budget) and, in the
  // traced first step, the non-model memory at the current position.
  void observeOperator(const char* name, bool starting) {
    if (!in_step || std::this_thread::get_id() != training_thread) return;
    const std::int64_t non_model = nonModelBytes();
    const std::int64_t used = device.liveBytes() + non_model;
    device_peak = std::max(device_peak, used);
    if (options.auto_placement && !traced && in_stage) {
      const auto p = static_cast<std::size_t>(position);
      non_model_trace[p] = std::max(non_model_trace[p], non_model);
      if (starting) ++trace_operators[p];
    }
    const std::int64_t budget = options.device_budget_bytes;
    if (budget > 0 && used > budget && overrun.empty()) overrun = overBudget(std::string("operator ") + name, used);
  }

  void setParameterViews(std::size_t c) {
    Chunk& chunk = chunks[c];
    for (const ChunkMember& m : chunk.spec.members) {
      at::Tensor& p = params[m.tensor];
      p.set_data(chunk.payload.narrow(0, m.offset, m.numel).view(p.sizes()));
    }
  }

  void moveParamShard(std::size_t c, Tier to) {
    Chunk& chunk = chunks[c];
    if (chunk.param_tier == to) return;
    std::int64_t unused_offset = 0;
    at::Tensor moved = onTier(to, chunk.shard, working_dtype, unused_offset);
    moved.copy_(chunk.param_shard);
    ledger.add({c, "param", chunk.param_tier, to, bytesOf(moved), "", ""});
    if (chunk.param_tier == Tier::host) host_bytes -= bytesOf(moved);
    if (to == Tier::host) host_bytes += bytesOf(moved);
    chunk.param_shard = moved;
    chunk.param_tier = to;
  }

  void gather(std::size_t c) {
    Chunk& chunk = chunks[c];
    if (chunk.gathered) return;
    const std::int64_t bytes = chunk.spec.capacity * workingBytes();
    if (options.auto_placement) makeRoom(bytes, c);
    device.reallocate(chunk.payload, bytes);
    // The own shard goes into its slot first (from the host: a tier copy), then the others arrive.
    at::Tensor own = chunk.payload.narrow(0, dp.rank() * chunk.shard, chunk.shard);
    own.copy_(chunk.param_shard);
    if (chunk.param_tier != Tier::device) ledger.add({c, "param", chunk.param_tier, Tier::device, bytesOf(own), "", ""});
    dp.allGatherInto(own, chunk.payload);
    chunk.gathered = true;
    for (const ChunkMember& m : chunk.spec.members) {
      states[m.tensor] = checkedTransition(names[m.tensor], states[m.tensor], TensorState::holding);
    }
    checkBudget("gathering", c);
  }

  void release(std::size_t c) {
    Chunk& chunk = chunks[c];
    if (!chunk.gathered || chunk.spec.persistent) return;
    for (const ChunkMember& m : chunk.spec.members) {
      if (states[m.tensor] == TensorState::free) continue;
      states[m.tensor] = checkedTransition(names[m.tensor], states[m.tensor], TensorState::free);
    }
    device.release(chunk.payload);
    chunk.gathered = false;
  }

  // The next position (after `from`, wrapping into the next micro-batch) whose stage uses chunk c.
  int distanceToNextUse(std::size_t c, int from) const {
    for (int step = 1; step <= positions(); ++step) {
      const int p = (from + step) % positions();
      const auto& used = stage_chunks[static_cast<std::size_t>(stageAt(p))];
      if (std::find(used.begin(), used.end(), c) != used.end()) return step;
    }
    return positions() + 1;
  }

  std::int64_t reserveAt(int p) const {
    if (!traced) return 0;
    const auto at = [&](int q) { return non_model_trace[static_cast<std::size_t>(q % positions())]; };
    return std::max(at(p), at(p + 1));
  }

  // auto placement: evict device-resident parameter shards, furthest next use first, until
  // `bytes` more fit beside the non-model memory expected here.
  void makeRoom(std::int64_t bytes, std::size_t needed) {
    const std::int64_t budget = options.device_budget_bytes;
    while (budget > 0 && device.liveBytes() + bytes + reserveAt(position) > budget) {
      std::optional<std::size_t> victim;
      int furthest = -1;
      for (std::size_t c = 0; c < chunks.size(); ++c) {
        if (c == needed || persistent(c) || chunks[c].param_tier != Tier::device) continue;
        const int distance = distanceToNextUse(c, position);
        if (distance > furthest) {
          furthest = distance;
          victim = c;
        }
      }
      if (!victim) return;  // nothing left to evict: checkBudget names the figures if it does not fit
      moveParamShard(*victim, Tier::host);
    }
  }

  // auto placement: bring the next `prefetch` chunks' parameter shards back to the device while they fit.
  void prefetchAhead() {
    if (!options.auto_placement || !traced || options.prefetch <= 0) return;
    int fetched = 0;
    std::vector<bool> considered(chunks.size(), false);
    for (int step = 1; step < positions() && fetched < options.prefetch; ++step) {
      const int p = (position + step) % positions();
      for (const std::size_t c : stage_chunks[static_cast<std::size_t>(stageAt(p))]) {
        if (considered[c] || fetched >= options.prefetch) continue;
        considered[c] = true;
        ++fetched;
        if (chunks[c].param_tier == Tier::device) continue;
        const std::int64_t bytes = bytesOf(chunks[c].param_shard);
        const std::int64_t budget = options.device_budget_bytes;
        if (budget > 0 && device.liveBytes() + bytes + reserveAt(position) > budget) return;
        moveParamShard(c, Tier::device);
        checkBudget("prefetching", c);
      }
    }
  }

  void recordNonModel() {
    if (!options.auto_placement || traced) return;
    const auto p = static_cast<std::size_t>(position);
    const std::int64_t now = nonModelBytes();
    non_model_trace[p] = std::max(non_model_trace[p], now);
    trace_entry_bytes[p] = std::max(trace_entry_bytes[p], now);
  }

  void enterStage(int stage, bool backward) {
    position = backward ? backwardPosition(stage) : forwardPosition(stage);
    ledger.setPhase(backward ? "backward" : "forward", stageName(stage, options.layers));
    in_stage = true;
    recordNonModel();
    for (const std::size_t c : stage_chunks[static_cast<std::size_t>(stage)]) gather(c);
    for (const std::size_t k : uses.uses[static_cast<std::size_t>(stage)]) {
      if (states[k] == TensorState::computing) continue;  // the tied embedding, already in its backward
      states[k] = checkedTransition(names[k], states[k], TensorState::computing);
    }
    prefetchAhead();
  }

  void gradientReady(std::size_t k) {
    states[k] = checkedTransition(names[k], states[k], TensorState::holding_after_backward);
    const std::size_t c = layout.chunkOf(k);
    if (--pending_grads[c] > 0) return;
    for (const ChunkMember& m : chunks[c].spec.members) {
      states[m.tensor] = checkedTransition(names[m.tensor], states[m.tensor], TensorState::ready_to_reduce);
    }
    chunk_complete[c] = true;
    // Strictly in the fixed order, so every rank issues the same collectives in the same order.
    while (next_to_reduce < reduce_order.size() && chunk_complete[reduce_order[next_to_reduce]]) {
      reduce(reduce_order[next_to_reduce]);
      ++next_to_reduce;
    }
    // The micro-batch's backward is over once every chunk is reduced; the trace is complete after
    // the first step's (finishReduction marks it).
    if (next_to_reduce == reduce_order.size()) in_backward = false;
  }

  void reduce(std::size_t c) {
    Chunk& chunk = chunks[c];
    // The payload's values are not needed again this micro-batch: the gradients take their place
    // (PatrickStar's reuse); the persistent chunk keeps its values and uses a buffer of its own.
    at::Tensor flat = chunk.spec.persistent ? device.empty(chunk.spec.capacity, working_dtype) : chunk.payload;
    flat.zero_();
    for (const ChunkMember& m : chunk.spec.members) {
      at::Tensor& p = params[m.tensor];
      if (p.grad().defined()) flat.narrow(0, m.offset, m.numel).copy_(p.grad().reshape({-1}));
      p.mutable_grad().reset();
    }
    const at::Tensor source = flat.scalar_type() == options.comm_dtype ? flat : flat.to(options.comm_dtype);
    const at::Tensor mine = dp.reduceScatter(source, 0);
    chunk.grad.add_(mine.to(at::kFloat), 1.0 / dp.size());
    if (chunk.optim_tier != Tier::device) ledger.add({c, "grad", Tier::device, chunk.optim_tier, chunk.shard * 4, "", ""});
    chunk.reduced = true;
    const TensorState after = chunk.spec.persistent ? TensorState::holding : TensorState::free;
    for (const ChunkMember& m : chunk.spec.members) states[m.tensor] = checkedTransition(names[m.tensor], states[m.tensor], after);
    if (!chunk.spec.persistent) {
      device.release(chunk.payload);
      chunk.gathered = false;
    }
  }
};

namespace {

ChunkLayout buildLayout(const std::vector<at::Tensor>& params, const StageUses& uses, int dp, std::int64_t chunk_elements) {
  ChunkLayoutRequest request;
  for (const at::Tensor& p : params) request.numels.push_back(p.numel());
  request.first_use = uses.first_use;
  request.dp = dp;
  request.chunk_elements = chunk_elements;
  for (const at::Tensor& p : params) request.keep_gathered.push_back(p.dim() < 2);
  return ChunkLayout(request);
}

}  // namespace

Zero3Engine::Zero3Engine(std::vector<at::Tensor> params, std::vector<std::string> names, std::vector<bool> decay,
                         StageUses uses, Group& dp, Zero3Options options) {
  ChunkLayout layout = buildLayout(params, uses, dp.size(), options.chunk_elements);
  state_ = std::make_unique<State>(std::move(params), std::move(names), std::move(decay), std::move(uses), dp,
                                   std::move(options), std::move(layout));
  State& s = *state_;
  const Zero3Options& o = s.options;
  const std::size_t count = s.layout.chunks().size();
  const bool has_persistent = count > 0 && s.layout.chunks().back().persistent;
  ChunkPlacement placement = staticPlacement(count, has_persistent, o.offload_param_fraction, o.offload_optim_fraction,
                                             o.disk_optim_fraction);
  if (o.auto_placement) {
    // Step 1 runs with every regular parameter shard on the host and traces the non-model memory;
    // later steps move shards to the device as the budget allows.
    for (std::size_t c = 0; c + (has_persistent ? 1 : 0) < count; ++c) placement.param[c] = Tier::host;
    s.non_model_trace.assign(static_cast<std::size_t>(s.positions()), 0);
    s.trace_operators.assign(static_cast<std::size_t>(s.positions()), 0);
    s.trace_entry_bytes.assign(static_cast<std::size_t>(s.positions()), 0);
  }
  const bool fp32 = s.working_dtype == at::kFloat;
  const bool rounded = o.round_working_to.has_value();
  const int rank = dp.rank();
  if (o.loss_scaling) s.scaler.emplace(*o.loss_scaling);
  // The disk tier holds, per chunk placed there, the gradient, master (when kept) and moments.
  std::int64_t disk_floats = 0;
  for (std::size_t c = 0; c < count; ++c) {
    if (placement.optim[c] != Tier::disk) continue;
    const bool separate_master = !fp32 || rounded || o.auto_placement || placement.param[c] != Tier::disk;
    disk_floats += s.layout.shardElements(c) * (separate_master ? 4 : 3);
  }
  if (disk_floats > 0) {
    if (o.offload_dir.empty()) {
      throw std::invalid_argument("parallel.offload_dir: disk_optim_fraction puts optimizer chunks on disk; set a directory");
    }
    s.disk = std::make_unique<DiskTier>(o.offload_dir, o.world_rank, disk_floats * 4);
  }
  s.states.assign(s.params.size(), TensorState::free);
  std::int64_t disk_offset = 0;
  at::NoGradGuard no_grad;
  for (std::size_t c = 0; c < count; ++c) {
    Chunk chunk;
    chunk.spec = s.layout.chunks()[c];
    chunk.shard = s.layout.shardElements(c);
    chunk.param_tier = placement.param[c];
    chunk.optim_tier = placement.optim[c];
    chunk.payload = s.device.empty(chunk.spec.capacity, s.working_dtype).zero_();
    for (const ChunkMember& m : chunk.spec.members) {
      chunk.payload.narrow(0, m.offset, m.numel).copy_(s.params[m.tensor].detach().reshape({-1}));
      // The shard segments: where this rank's slice [rank * shard, (rank + 1) * shard) cuts the tensor.
      const std::int64_t begin = std::max(m.offset, rank * chunk.shard);
      const std::int64_t end = std::min(m.offset + m.numel, (rank + 1) * chunk.shard);
      if (begin < end) chunk.segments.push_back({m.tensor, begin - m.offset, begin - rank * chunk.shard, end - begin});
    }
    std::int64_t unused = 0;
    chunk.param_shard = s.onTier(chunk.param_tier, chunk.shard, s.working_dtype, unused);
    chunk.param_shard.copy_(chunk.payload.narrow(0, rank * chunk.shard, chunk.shard));
    // The disk tier cannot hold working parameters: a disk optimizer shard always has a master.
    const bool separate_master = !fp32 || rounded || o.auto_placement || chunk.param_tier != chunk.optim_tier;
    chunk.grad = s.onTier(chunk.optim_tier, chunk.shard, at::kFloat, disk_offset);
    if (separate_master) {
      chunk.master = s.onTier(chunk.optim_tier, chunk.shard, at::kFloat, disk_offset);
      chunk.master.copy_(chunk.param_shard);
    }
    if (rounded) {  // the masters keep the exact initial values; the working ones are rounded
      s.setWorking(chunk.param_shard, chunk.param_shard);
      s.setWorking(chunk.payload, chunk.payload);
    }
    chunk.exp_avg = s.onTier(chunk.optim_tier, chunk.shard, at::kFloat, disk_offset);
    chunk.exp_avg_sq = s.onTier(chunk.optim_tier, chunk.shard, at::kFloat, disk_offset);
    s.chunks.push_back(std::move(chunk));
    // The model's parameters view the payload from now on; the full-size originals are freed.
    s.setParameterViews(c);
    if (s.chunks[c].spec.persistent) {
      s.chunks[c].gathered = true;
      for (const ChunkMember& m : s.chunks[c].spec.members) s.states[m.tensor] = TensorState::holding;
    } else {
      s.device.release(s.chunks[c].payload);
    }
  }
  s.stage_chunks.resize(s.uses.uses.size());
  for (std::size_t stage = 0; stage < s.uses.uses.size(); ++stage) {
    for (const std::size_t k : s.uses.uses[stage]) {
      const std::size_t c = s.layout.chunkOf(k);
      auto& list = s.stage_chunks[stage];
      if (!s.persistent(c) && std::find(list.begin(), list.end(), c) == list.end()) list.push_back(c);
    }
  }
  for (std::size_t c = count; c-- > 0;) {
    if (!s.persistent(c)) s.reduce_order.push_back(c);
  }
  if (has_persistent) s.reduce_order.push_back(count - 1);
  s.chunk_complete.assign(count, false);
  s.pending_grads.assign(count, 0);
  s.gradient_hooks = std::make_unique<GradientReadyHooks>(s.params, [state = state_.get()](std::size_t k) {
    state->gradientReady(k);
  });
  for (const Chunk& c : s.chunks) {
    if (c.param_tier == Tier::host) s.host_bytes += bytesOf(c.param_shard);
    if (c.optim_tier == Tier::host) s.host_bytes += bytesOf(c.grad) + bytesOf(c.master) + bytesOf(c.exp_avg) + bytesOf(c.exp_avg_sq);
  }
  s.ledger.takeStep();
  s.device.resetPeak();
  if (o.live_tensor_bytes && (o.auto_placement || o.device_budget_bytes > 0)) {
    s.operator_observer = std::make_unique<OperatorObserver>([state = state_.get()](const char* name, bool starting) {
      state->observeOperator(name, starting);
    });
  }
}

Zero3Engine::~Zero3Engine() = default;

void Zero3Engine::beforeStage(int stage) {
  State& s = *state_;
  if (s.in_backward) return;  // recomputation inside backward: the stage's chunks are gathered
  s.enterStage(stage, /*backward=*/false);
}

at::Tensor Zero3Engine::afterStage(int stage, const at::Tensor& output) {
  State& s = *state_;
  s.throwIfOverrun();
  if (s.in_backward) return output;
  for (const std::size_t k : s.uses.uses[static_cast<std::size_t>(stage)]) {
    s.states[k] = checkedTransition(s.names[k], s.states[k], TensorState::holding);
  }
  const bool training = at::GradMode::is_enabled() && output.requires_grad();
  // The stage that comes next: the following stage, or after the head its own backward (training)
  // or nothing (evaluation).
  const bool last = stage == s.stages() - 1;
  std::vector<std::size_t> keep;
  if (!last) keep = s.stage_chunks[static_cast<std::size_t>(stage + 1)];
  if (last && training) keep = s.stage_chunks[static_cast<std::size_t>(stage)];
  for (const std::size_t c : s.stage_chunks[static_cast<std::size_t>(stage)]) {
    if (std::find(keep.begin(), keep.end(), c) == keep.end()) s.release(c);
  }
  s.device_peak = std::max(s.device_peak, s.device.liveBytes() + s.nonModelBytes());
  if (!training) return output;
  return StageBackwardEntry::apply(output, reinterpret_cast<std::int64_t>(this), static_cast<std::int64_t>(stage));
}

void Zero3Engine::beforeStageBackward(int stage) {
  State& s = *state_;
  s.throwIfOverrun();
  s.in_backward = true;
  s.enterStage(stage, /*backward=*/true);
}

void Zero3Engine::zeroGrad() {
  State& s = *state_;
  for (Chunk& c : s.chunks) c.grad.zero_();
  s.full_values = at::Tensor();  // before the baseline: a cached gather is not the step's memory
  s.non_model_baseline = s.liveOutsideTiers();
  s.in_step = true;
}

void Zero3Engine::beginBackward(bool /*last_micro_batch*/) {
  State& s = *state_;
  // Every micro-batch reduces its own gradients into the shards (ZeRO-3 keeps no full gradient).
  s.next_to_reduce = 0;
  s.chunk_complete.assign(s.chunks.size(), false);
  for (std::size_t c = 0; c < s.chunks.size(); ++c) {
    s.chunks[c].reduced = false;
    s.pending_grads[c] = static_cast<int>(s.chunks[c].spec.members.size());
  }
}

void Zero3Engine::finishReduction() {
  State& s = *state_;
  for (std::size_t c = 0; c < s.chunks.size(); ++c) {
    if (s.chunks[c].reduced) continue;
    std::string missing;
    for (const ChunkMember& m : s.chunks[c].spec.members) {
      if (s.states[m.tensor] != TensorState::free && s.states[m.tensor] != TensorState::holding) missing = s.names[m.tensor];
    }
    throw std::logic_error("ZeRO-3: chunk " + std::to_string(c) + " was not reduced this backward (tensor " +
                           (missing.empty() ? s.names[s.chunks[c].spec.members.front().tensor] : missing) +
                           " got no gradient)");
  }
  s.in_backward = false;
  s.in_stage = false;
  s.throwIfOverrun();
  if (s.options.auto_placement && !s.traced) s.traced = true;
}

Zero3StepOutcome Zero3Engine::step(double lr, double max_norm) {
  State& s = *state_;
  at::NoGradGuard no_grad;
  s.ledger.setPhase("update", "update");
  s.full_values = at::Tensor();  // the update changes every shard
  // The step's operators are watched until the update ends, however it ends.
  struct StepEnd {
    State& s;
    ~StepEnd() { s.in_step = false; }
  } step_end{s};
  Zero3StepOutcome outcome;
  outcome.loss_scale = lossScale();
  if (const auto& hook = zeroGradientHookForTesting()) hook(s.dp.rank(), s.steps_called, s.chunks.front().grad);
  ++s.steps_called;
  if (outcome.loss_scale != 1.0) {
    for (Chunk& chunk : s.chunks) chunk.grad.mul_(1.0 / outcome.loss_scale);
  }
  // The global norm; non-finite on every rank as soon as any rank's shard holds inf/NaN.
  double squares = 0.0;
  for (const Chunk& chunk : s.chunks) {
    for (const ShardSegment& seg : chunk.segments) {
      if (!s.options.counted_in_norm.empty() && !s.options.counted_in_norm[seg.param]) continue;
      squares += sumOfSquares(chunk.grad.narrow(0, seg.shard_offset, seg.numel));
    }
  }
  at::Tensor global = at::full({1}, squares, at::kDouble);
  if (s.dp.size() > 1) s.dp.allReduce(global, ReduceOp::Sum);
  if (s.options.norm_group != nullptr && s.options.norm_group->size() > 1) s.options.norm_group->allReduce(global, ReduceOp::Sum);
  outcome.grad_norm = std::sqrt(global.item<double>());
  if (s.scaler) {
    // One decision for every shard on every tier and every rank: skip them all, or update them all.
    const bool overflow = !std::isfinite(outcome.grad_norm);
    s.scaler->update(overflow);
    if (overflow) {
      outcome.skipped = true;
      return outcome;
    }
  }
  const double clip = max_norm > 0.0 && outcome.grad_norm > max_norm ? max_norm / (outcome.grad_norm + 1e-6) : 1.0;

  ++s.updates;
  AdamWStep hyper;
  hyper.lr = lr;
  hyper.beta1 = s.options.beta1;
  hyper.beta2 = s.options.beta2;
  hyper.eps = s.options.eps;
  hyper.step = s.updates;
  for (std::size_t c = 0; c < s.chunks.size(); ++c) {
    Chunk& chunk = s.chunks[c];
    if (clip != 1.0) chunk.grad.mul_(clip);
    // A disk shard is staged through host memory around its update: read, update, write back.
    const bool on_disk = chunk.optim_tier == Tier::disk;
    at::Tensor master = chunk.master.defined() ? chunk.master : chunk.param_shard;
    at::Tensor grad = on_disk ? chunk.grad.clone() : chunk.grad;
    at::Tensor exp_avg = on_disk ? chunk.exp_avg.clone() : chunk.exp_avg;
    at::Tensor exp_avg_sq = on_disk ? chunk.exp_avg_sq.clone() : chunk.exp_avg_sq;
    if (on_disk) master = master.clone();
    const std::int64_t staged = on_disk ? bytesOf(grad) + bytesOf(master) + bytesOf(exp_avg) + bytesOf(exp_avg_sq) : 0;
    if (on_disk) s.ledger.add({c, "optim", Tier::disk, Tier::host, staged, "", ""});
    for (const ShardSegment& seg : chunk.segments) {
      hyper.weight_decay = s.decay[seg.param] ? s.options.weight_decay : 0.0;
      at::Tensor p = master.narrow(0, seg.shard_offset, seg.numel);
      const at::Tensor g = grad.narrow(0, seg.shard_offset, seg.numel);
      at::Tensor m = exp_avg.narrow(0, seg.shard_offset, seg.numel);
      at::Tensor v = exp_avg_sq.narrow(0, seg.shard_offset, seg.numel);
      if (chunk.optim_tier == Tier::device) {
        tensorAdamW(p, g, m, v, hyper);  // the device's update
      } else {
        cpuAdamW(p, g, m, v, hyper);
      }
    }
    if (on_disk) {
      chunk.master.copy_(master);
      chunk.exp_avg.copy_(exp_avg);
      chunk.exp_avg_sq.copy_(exp_avg_sq);
      s.ledger.add({c, "optim", Tier::host, Tier::disk, staged, "", ""});
    }
    if (chunk.master.defined()) {
      s.setWorking(chunk.param_shard, master);  // rounded to the working dtype in bf16, to fp16 values in fp16
      const Tier from = on_disk ? Tier::host : chunk.optim_tier;
      s.ledger.add({c, "param", from, chunk.param_tier, bytesOf(chunk.param_shard), "", ""});
    }
    if (chunk.spec.persistent) {
      at::Tensor own = chunk.payload.narrow(0, s.dp.rank() * chunk.shard, chunk.shard);
      own.copy_(chunk.param_shard);
      s.dp.allGatherInto(own, chunk.payload);
    }
  }
  s.throwIfOverrun();
  return outcome;
}

at::Tensor Zero3Engine::fullParameter(std::size_t k) {
  State& s = *state_;
  at::NoGradGuard no_grad;
  const std::size_t c = s.layout.chunkOf(k);
  Chunk& chunk = s.chunks[c];
  const ChunkMember* member = nullptr;
  for (const ChunkMember& m : chunk.spec.members) {
    if (m.tensor == k) member = &m;
  }
  at::Tensor full;
  if (chunk.gathered) {
    full = chunk.payload;
  } else {
    // Callers walk the parameters in order (checkpoints, the final weights): consecutive ones
    // mostly share a chunk, gathered once. Every rank asks in the same order, so every rank hits
    // and misses alike and the collectives match.
    if (s.full_chunk != c || !s.full_values.defined()) {
      s.full_values = at::empty({chunk.spec.capacity}, at::TensorOptions().dtype(s.working_dtype));
      s.dp.allGatherInto(chunk.param_shard.contiguous(), s.full_values);
      s.full_chunk = c;
    }
    full = s.full_values;
  }
  return full.narrow(0, member->offset, member->numel).view(s.params[k].sizes()).to(at::kFloat).clone();
}

std::int64_t Zero3Engine::stateBytes() const {
  const State& s = *state_;
  std::int64_t bytes = 0;
  for (const Chunk& c : s.chunks) {
    bytes += bytesOf(c.param_shard) + bytesOf(c.grad) + bytesOf(c.master) + bytesOf(c.exp_avg) + bytesOf(c.exp_avg_sq);
    if (c.gathered) bytes += c.spec.capacity * s.workingBytes();
  }
  return bytes;
}

std::int64_t Zero3Engine::hostStateBytes() const { return state_->tierBytes(Tier::host); }

Zero3TierFigures Zero3Engine::takeTierFigures() {
  State& s = *state_;
  Zero3TierFigures figures;
  for (int t = 0; t < kTierCount; ++t) figures.bytes[t] = s.tierBytes(static_cast<Tier>(t));
  s.device_peak = std::max(s.device_peak, s.device.liveBytes() + s.nonModelBytes());
  figures.device_peak_bytes = s.device_peak;
  figures.moved_bytes = s.ledger.movedBytes();
  figures.moves = s.ledger.moves();
  for (const Chunk& c : s.chunks) {
    ++figures.chunks[static_cast<int>(c.param_tier)];
    ++figures.chunks[static_cast<int>(c.optim_tier)];
  }
  s.device_peak = 0;
  s.ledger.takeStep();
  return figures;
}

const TierLedger& Zero3Engine::ledger() const { return state_->ledger; }
const ChunkLayout& Zero3Engine::layout() const { return state_->layout; }
Tier Zero3Engine::paramTier(std::size_t chunk) const { return state_->chunks.at(chunk).param_tier; }
Tier Zero3Engine::optimTier(std::size_t chunk) const { return state_->chunks.at(chunk).optim_tier; }
const std::vector<std::string>& Zero3Engine::names() const { return state_->names; }
std::vector<Zero3TracePoint> Zero3Engine::nonModelTrace() const {
  const State& s = *state_;
  std::vector<Zero3TracePoint> points;
  if (!s.traced) return points;
  for (int p = 0; p < s.positions(); ++p) {
    const auto q = static_cast<std::size_t>(p);
    points.push_back({p, stageName(s.stageAt(p), s.options.layers), p < s.stages() ? "forward" : "backward",
                      s.non_model_trace[q], s.trace_entry_bytes[q], s.trace_operators[q]});
  }
  return points;
}

int Zero3Engine::workingBytes() const { return static_cast<int>(state_->workingBytes()); }

std::vector<Zero3StateView> Zero3Engine::stateViews() {
  State& s = *state_;
  std::vector<Zero3StateView> views;
  for (Chunk& chunk : s.chunks) {
    for (const ShardSegment& seg : chunk.segments) {
      const auto piece = [&](const at::Tensor& t) { return t.defined() ? t.narrow(0, seg.shard_offset, seg.numel) : at::Tensor(); };
      views.push_back({seg.param, seg.param_offset, piece(chunk.param_shard), piece(chunk.master), piece(chunk.exp_avg),
                       piece(chunk.exp_avg_sq)});
    }
  }
  return views;
}

std::int64_t Zero3Engine::updates() const { return state_->updates; }
void Zero3Engine::setUpdates(std::int64_t updates) { state_->updates = updates; }
double Zero3Engine::lossScale() const { return state_->scaler ? state_->scaler->scale() : 1.0; }
int Zero3Engine::cleanSteps() const { return state_->scaler ? state_->scaler->cleanSteps() : 0; }
void Zero3Engine::restoreLossScale(double scale, int clean_steps) {
  if (state_->scaler) state_->scaler->restore(scale, clean_steps);
}

void Zero3Engine::afterStateLoaded() {
  State& s = *state_;
  at::NoGradGuard no_grad;
  s.full_values = at::Tensor();
  for (Chunk& chunk : s.chunks) {
    if (chunk.master.defined()) s.setWorking(chunk.param_shard, chunk.master);
    if (chunk.spec.persistent) {
      at::Tensor own = chunk.payload.narrow(0, s.dp.rank() * chunk.shard, chunk.shard);
      own.copy_(chunk.param_shard);
      s.dp.allGatherInto(own, chunk.payload);
    }
  }
}

}  // namespace behemoth
