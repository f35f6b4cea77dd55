#include "backend/train/trainer.h"

#include <torch/csrc/autograd/generated/variable_factories.h>
#include <torch/nn/module.h>
#include <torch/utils.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <cmath>
#include <stdexcept>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/data/batch_sampler.h"
#include "backend/engine_version.h"
#include "backend/data/corpus.h"
#include "backend/data/corpus_checks.h"
#include "backend/data/training_tokens.h"
#include "backend/metrics/event_sink.h"
#include "backend/metrics/events.h"
#include "backend/metrics/step_metrics.h"
#include "backend/hf/hf_checkpoint.h"
#include "backend/hf/hf_export.h"
#include "backend/hf/hf_export_inputs.h"
#include "backend/hf/hf_import.h"
#include "backend/metrics/tensor_memory.h"
#include "backend/model/language_model.h"
#include "backend/parallelize/parallelize.h"
#include "backend/pipeline/pipeline_executor.h"
#include "backend/pipeline/stage_parameters.h"
#include "backend/pipeline/step_trace.h"
#include "backend/train/checkpoint_loading.h"
#include "backend/train/checkpoint_saver.h"
#include "backend/train/chunk_record.h"
#include "backend/train/lr_schedule.h"
#include "backend/train/parameter_updater.h"
#include "backend/train/process_stats.h"
#include "backend/train/corpus_agreement.h"
#include "backend/train/fault_injection.h"
#include "backend/train/stop_request.h"
#include "parallel/activity.h"
#include "parallel/step_profile.h"
#include "parallel/deferred_weight_grad.h"
#include "parallel/pipeline/pipeline_schedule.h"
#include "parallel/pipeline/stage_layers.h"
#include "parallel/world.h"
#include "parallel/zero3/zero3_engine.h"

namespace behemoth {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Eval mode (no dropout) for a scope; training mode again after it.
class EvalModeScope {
 public:
  explicit EvalModeScope(torch::nn::Module& module) : module_(module) { module_.eval(); }
  ~EvalModeScope() { module_.train(); }
  EvalModeScope(const EvalModeScope&) = delete;
  EvalModeScope& operator=(const EvalModeScope&) = delete;

 private:
  torch::nn::Module& module_;
};

// The step event's ZeRO-3 figures in a fixed order (0 when the run is not ZeRO-3): device, host,
// disk bytes, device peak, bytes moved, and chunk shards on device, host, disk.
double tierValue(const std::optional<Zero3TierFigures>& tiers, int field) {
  if (!tiers) return 0.0;
  switch (field) {
    case 0: return static_cast<double>(tiers->bytes[0]);
    case 1: return static_cast<double>(tiers->bytes[1]);
    case 2: return static_cast<double>(tiers->bytes[2]);
    case 3: return static_cast<double>(tiers->device_peak_bytes);
    case 4: return static_cast<double>(tiers->moved_bytes);
    default: return static_cast<double>(tiers->chunks[field - 5]);
  }
}

}  // namespace

struct Trainer::State {
  Project project;
  ProcessWorld& world;
  Group& dp;
  Group& tp;
  Group& pp;
  // The ranks holding the same weights and seeing different tokens: dp, and under sequence
  // parallelism dp x sp (each sp rank's loss is the mean over its shard of the sequence, so the
  // average over dp x sp is the global batch's mean). Gradients are averaged and ZeRO shards over it.
  Group& data;
  SequenceSegments sp_shard;  // this rank's positions of each sequence (the whole one without sp)
  std::shared_ptr<LanguageModel> model;
  TensorParallelLayout tp_layout;
  std::vector<std::string> names;
  std::vector<at::Tensor> working;  // the model's parameters (fp32 or bf16)
  std::unique_ptr<ParameterUpdater> updater;
  std::unique_ptr<BatchSampler> sampler;
  std::string data_summary;     // the tokenizer and what it made of the corpus, for the run's log
  std::string tokenizer_kind;
  std::int64_t token_count = 0;
  TrainerOptions options;
  std::int64_t start_step = 0;     // > 0 when resumed from a checkpoint
  std::string resumed_layout;
  double resume_seconds = 0.0;
  std::int64_t resume_bytes_read = 0;
  std::unique_ptr<CheckpointSaver> saver;
  // train.measure_memory: tensor bytes the last step's first micro-batch kept for backward.
  std::int64_t activation_bytes = 0;
  // Pipeline parallelism (parallel.pp > 1): this rank's schedule runner; the group of the first and
  // last stage when they share a tied embedding (its gradient is summed over it), and its index.
  std::unique_ptr<PipelineExecutor> pipeline;
  Group* tied_group = nullptr;
  std::size_t tied_param = 0;
  std::vector<bool> loaded_only;  // per parameter: a copy another rank saves (the tied head's)
  std::optional<PipelineStepResult> last_pipeline_step;
  std::unique_ptr<ChunkRecord> chunk_record;  // ZeRO-3: OUT_DIR/chunks/rank-NNNNN.json
  double bubble_fraction = 0.0;  // the last step's measured bubble on this rank

  State(Project p, ProcessWorld& w)
      : project(std::move(p)),
        world(w),
        dp(w.group(Axis::dp)),
        tp(w.group(Axis::tp)),
        pp(w.group(Axis::pp)),
        data(project.plan.sp > 1 ? w.group({Axis::dp, Axis::sp}) : dp),
        sp_shard(project.plan.sp > 1 ? sequenceShard(sequenceSplitOf(project.plan.sp_mode), project.model.seq_len,
                                                      project.plan.sp, w.group(Axis::sp).rank())
                                     : SequenceSegments{{0, project.model.seq_len}}) {}

  // This rank's tokens of a batch of whole sequences: its sp shard of every sequence.
  Batch localTokens(Batch batch) const {
    if (project.plan.sp == 1) return batch;
    return {takeSegments(batch.inputs, 1, sp_shard), takeSegments(batch.targets, 1, sp_shard)};
  }

  bool pipelined() const { return project.plan.pp > 1; }
  // Tokens of a micro-batch on this rank between stages: its sp shard, and of that its tp slice
  // under Megatron-SP.
  std::int64_t boundaryTokens() const {
    const std::int64_t shard = project.model.seq_len / project.plan.sp;  // this rank's sp shard
    return project.plan.sequence_parallel && tp.size() > 1 ? shard / tp.size() : shard;
  }
  // What one stage sends the next for `sequences` sequences: [B, T, d_model], or under a 2D /
  // 2.5D / 3D grid this rank's block of the residual stream (grid_hooks.h).
  std::vector<std::int64_t> boundaryShape(std::int64_t sequences) const {
    std::int64_t features = project.model.d_model;
    if (const GridTensorParallel* grid = model->gridTensorParallel()) {
      const GridActivationPlacement place = grid->activations();
      sequences /= place.sample_chunks;
      features /= place.feature_chunks;
    }
    return {sequences, boundaryTokens(), features};
  }
  void setUpPipeline();
  double pipelineStep(int step);
  double pipelineEvaluate();
  void writeTrace(int step) const;

  // This rank's rows of the global batch: dp rank r holds [r * local, (r + 1) * local).
  int firstLocalSequence() const { return dp.rank() * project.localBatch(); }

  double trainStep(int step);
  double evaluate();

  // Checkpoints: this rank's pieces of the state, the scalars beside them, loading.
  std::vector<CheckpointPart> checkpointParts() const;
  TrainingState trainingState(std::int64_t steps_done) const;
  void resumeFrom(const std::filesystem::path& step_dir);
  void importPretrained(const std::string& dir);
  void exportHuggingFace(std::int64_t steps_done, EventSink* sink) const;
};

std::vector<CheckpointPart> Trainer::State::checkpointParts() const {
  PartsContext context;
  context.names = &names;
  context.parameters = &working;
  context.tp_layout = &tp_layout;
  // Replicas over sp hold what dp replicas hold.
  context.dp_rank = data.rank();
  context.dp = data.size();
  context.tp_rank = tp.rank();
  context.tp = tp.size();
  context.loaded_only = &loaded_only;
  return behemoth::checkpointParts(updater->stateViews(), context);
}

TrainingState Trainer::State::trainingState(std::int64_t steps_done) const {
  const OptimizerCounters counters = updater->counters();
  TrainingState state;
  state.step = steps_done;
  state.optimizer_updates = counters.updates;
  state.loss_scale = counters.loss_scale;
  state.loss_scale_clean_steps = counters.clean_steps;
  state.data_position = sampler->position();
  state.seed = project.train.seed;
  state.precision = precisionName(project.precision);
  state.world_size = world.world().size();
  state.layout = layoutDescription(planToJson(project.plan));
  state.engine_version = kEngineVersion;
  state.saved_at = utcTimestamp();
  state.project_json = projectToJson(project).dump();
  return state;
}

void Trainer::State::resumeFrom(const std::filesystem::path& step_dir) {
  ActivityScope activity("loading checkpoint");
  const auto started = Clock::now();
  const CheckpointIndex index = readCheckpointIndex(step_dir);
  const TrainingState state = readTrainingState(step_dir);
  const std::vector<CheckpointPart> parts = checkpointParts();
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> model_shapes;
  for (std::size_t k = 0; k < names.size(); ++k) {
    model_shapes.emplace_back(names[k], globalShapeOf(working[k].sizes().vec(), tp_layout.placement(names[k])));
  }
  // A pipeline stage checks the checkpoint against the whole model, every stage's tensors.
  if (pipelined()) model_shapes = gatherStageShapes(model_shapes, pp);
  std::vector<std::string> model_names;
  std::vector<std::vector<std::int64_t>> shapes;
  for (auto& [name, shape] : model_shapes) {
    model_names.push_back(name);
    shapes.push_back(std::move(shape));
  }
  checkCheckpointMatches(step_dir, index, state, parts, model_names, shapes, precisionName(project.precision));
  if (state.step > project.train.steps) {
    throw std::invalid_argument("train.steps: " + std::to_string(project.train.steps) + " is fewer than the " +
                                std::to_string(state.step) + " steps the checkpoint " + step_dir.string() + " already trained");
  }
  torch::NoGradGuard no_grad;
  const std::int64_t bytes_read = loadCheckpointParts(step_dir, index, parts);
  updater->afterStateLoaded();
  // The job's figures: the slowest rank's time, every rank's bytes.
  at::Tensor figures = at::tensor({secondsSince(started), static_cast<double>(bytes_read)}, at::kDouble);
  Group& everyone = world.world();
  if (everyone.size() > 1) {
    at::Tensor slowest = figures.narrow(0, 0, 1).clone();
    at::Tensor total = figures.narrow(0, 1, 1).clone();
    everyone.allReduce(slowest, ReduceOp::Max);
    everyone.allReduce(total, ReduceOp::Sum);
    figures = at::cat({slowest, total});
  }
  resume_seconds = figures[0].item<double>();
  resume_bytes_read = static_cast<std::int64_t>(figures[1].item<double>());
  updater->restoreCounters({state.optimizer_updates, state.loss_scale, state.loss_scale_clean_steps});
  sampler->restore(state.data_position);
  start_step = state.step;
  resumed_layout = state.layout;
}

// model.hf_pretrained: every rank fills the slices it holds from the Hugging Face files.
void Trainer::State::importPretrained(const std::string& dir) {
  ActivityScope activity("loading Hugging Face weights");
  const HfCheckpoint checkpoint = HfCheckpoint::open(dir, project.model);
  HfImportOptions options;
  options.round_working_to_half = project.precision == Precision::fp16;
  importHfWeights(checkpoint, checkpointParts(), options);
  updater->afterStateLoaded();
}

// train.export_hf: rank 0 writes OUT_DIR/hf from the final checkpoint's files, one tensor at a time
// (the checkpoint is complete on disk: saver->finish() returned), so no rank gathers the model.
void Trainer::State::exportHuggingFace(std::int64_t steps_done, EventSink* sink) const {
  ActivityScope activity("exporting the Hugging Face model");
  const std::filesystem::path step_dir = checkpointsDir(project.train.out_dir) / stepDirName(steps_done);
  const std::filesystem::path target = std::filesystem::path(project.train.out_dir) / "hf";
  HfExportOptions options = hfExportInputsOf(step_dir);
  options.replace = true;  // a run writing this out_dir again replaces its own export
  const HfExportSummary summary = exportHfModel(step_dir, target, options);
  if (sink) {
    char text[256];
    std::snprintf(text, sizeof text, "exported the Hugging Face model to %s (%d tensors, %.1f MB in %zu file%s)",
                  target.c_str(), summary.tensors, summary.weight_bytes / 1e6, summary.weight_files.size(),
                  summary.weight_files.size() == 1 ? "" : "s");
    sink->emit(logEvent(text));
  }
}

Trainer::Trainer(Project project, ProcessWorld& world, TrainerOptions options)
    : state_(std::make_unique<State>(std::move(project), world)) {
  State& s = *state_;
  s.options = std::move(options);
  const Project& p = s.project;
  // Installed before the model exists, so parameters, gradients and optimizer states are counted.
  // ZeRO-3 under a device budget also needs it: the non-model memory beside the chunks.
  const bool zero3_budget = p.plan.zero == 3 && (p.plan.device_budget_mb > 0 || p.plan.placement == "auto");
  if (p.train.measure_memory || zero3_budget) tensor_memory::installCountingAllocator();
  // ZeRO-3: the dp ranks build their full-size models one after another, each cutting its shards
  // and freeing the full copy before the next starts, so the machine holds one full model at a time
  // (a barrier per turn; tp peers share a turn, their collectives stay inside it).
  const bool staggered = p.plan.zero == 3 && s.dp.size() > 1;
  if (staggered) {
    ActivityScope waiting("waiting for the lower dp ranks to shard their models");
    for (int turn = 0; turn < s.dp.rank(); ++turn) s.dp.barrier();
  }
  s.model = buildModel(p.model, p.train.seed, stageModelPart(p, s.pp.rank()));
  // Shards are sliced from the full seed-initialized parameters: every layout starts alike.
  s.tp_layout = parallelize(*s.model, p.plan, world);
  s.model->setRecompute(recomputeFromName(p.train.recompute));
  // fp16 on a CPU computes in fp32 with fp16-rounded weights and fp16 gradient reduction (LibTorch
  // has no CPU fp16 matmul); the ZeRO optimizer does the rounding and the loss scaling.
  if (p.precision == Precision::bf16) s.model->to(at::kBFloat16);
  if (p.precision == Precision::fp16 && p.plan.zero == 0) {
    throw std::invalid_argument("precision: fp16 needs parallel.zero 1, 2 or 3 (dynamic loss scaling lives in the ZeRO optimizer)");
  }
  for (const auto& item : s.model->named_parameters()) {
    s.names.push_back(item.key());
    s.working.push_back(item.value());
  }
  // The tied head's copy of the embedding is loaded, never saved, and counted once in the norm.
  s.loaded_only.assign(s.names.size(), false);
  if (s.pipelined() && p.model.tie_embeddings && s.pp.rank() == s.pp.size() - 1) {
    for (std::size_t k = 0; k < s.names.size(); ++k) s.loaded_only[k] = s.names[k] == "tok_emb.weight";
  }
  NormSpan norm;
  if (s.tp.size() > 1 || s.pipelined()) {
    // The norm spans every model-parallel axis: each rank sums the squares of what it holds.
    norm.tp = s.pipelined() ? &world.group({Axis::pp, Axis::tp}) : &s.tp;
    for (std::size_t k = 0; k < s.names.size(); ++k) {
      norm.counted.push_back(s.tp_layout.countsInNorm(s.names[k], s.tp.rank()) && !s.loaded_only[k]);
    }
  }
  if (p.plan.zero == 3) {
    // Chunks are sharded over dp x sp: the sp ranks hold the same weights as dp replicas do.
    s.updater = makeZero3Updater(*s.model, s.names, s.working, s.data, p, norm, world.rank());
    s.chunk_record = std::make_unique<ChunkRecord>(
        p.train.out_dir, ChunkRecordIdentity{world.rank(), s.data.rank(), s.data.size(), s.tp.rank(), p.plan.placement});
    if (staggered) {
      ActivityScope waiting("waiting for the higher dp ranks to shard their models");
      for (int turn = s.dp.rank(); turn < s.dp.size(); ++turn) s.dp.barrier();
    }
  } else if (p.plan.zero > 0) {
    s.updater = makeZeroUpdater(s.working, s.data, p, norm);
  } else {
    s.updater = makeDataParallelUpdater(s.working, s.data, p, norm);
  }

  SamplerOptions sampling;
  sampling.seq_len = p.model.seq_len;
  sampling.global_batch_size = p.data.global_batch_size;
  sampling.seed = p.train.seed;
  sampling.eval_fraction = p.data.eval_fraction;
  auto corpus = std::make_shared<const Corpus>(loadCorpus(p.data.corpus));
  requireSameCorpusOnEveryRank(*corpus, world.world());
  // The byte tokenizer samples the corpus's bytes as always; another one maps the corpus's token
  // cache, which the launcher wrote before launch (a rank that finds none writes it, atomically).
  const std::shared_ptr<const Tokenizer> tokenizer =
      s.options.tokenizer ? s.options.tokenizer : std::shared_ptr<const Tokenizer>(openTokenizer(p.data.tokenizer));
  checkTokenizerForProject(*tokenizer, p);
  TrainingTokens tokens = trainingTokens(p, std::move(corpus), *tokenizer, /*show_progress=*/world.rank() == 0);
  // Only real tokenizers: the byte path stays as it was (its corpus agreement covers it).
  if (!usesByteTokenizer(p.data)) requireSameTokensOnEveryRank(tokenizer->contentKey(), tokens.ids->size(), world.world());
  s.data_summary = tokens.summary;
  s.tokenizer_kind = tokens.tokenizer;
  s.token_count = tokens.ids->size();
  s.sampler = std::make_unique<BatchSampler>(std::move(tokens.ids), sampling);
  if (s.pipelined()) s.setUpPipeline();
  if (s.options.resume_from) {
    s.resumeFrom(*s.options.resume_from);
  } else if (p.model_hf_pretrained) {
    s.importPretrained(*p.model_hf_pretrained);
  }
  s.saver = std::make_unique<CheckpointSaver>(p.train.out_dir, world.world(), p.train.checkpoint_keep, p.train.checkpoint_async);
}

std::int64_t Trainer::startStep() const { return state_->start_step; }

std::string Trainer::dataSummary() const { return state_->data_summary; }

std::string Trainer::tokenizerKind() const { return state_->tokenizer_kind; }

std::int64_t Trainer::tokenCount() const { return state_->token_count; }

std::string Trainer::resumedLayout() const { return state_->resumed_layout; }

double Trainer::resumeSeconds() const { return state_->resume_seconds; }

std::int64_t Trainer::resumeBytesRead() const { return state_->resume_bytes_read; }

Trainer::~Trainer() = default;

double Trainer::State::trainStep(int step) {
  if (pipelined()) return pipelineStep(step);
  const int micro = project.microBatchSize();
  const int micro_batches = project.microBatches();
  const bool measuring = project.train.measure_memory;
  if (measuring) tensor_memory::resetPeak();
  updater->zeroGrad();
  const double loss_scale = updater->lossScale();
  double loss_sum = 0.0;
  for (int m = 0; m < micro_batches; ++m) {
    const int first_sample = firstLocalSequence() + m * micro;
    const Batch batch = localTokens(sampler->globalBatchSlice(step, first_sample, micro));
    // Dropout masks are keyed on the global samples, not on this rank's rows.
    model->setDropoutContext({project.train.seed, step, first_sample});
    const std::string doing = "forward/backward step " + std::to_string(step) + " micro-batch " + std::to_string(m);
    ActivityScope activity(doing.c_str());
    const std::int64_t live_before_forward = measuring ? tensor_memory::liveBytes() : 0;
    const at::Tensor loss = model->loss(batch.inputs, batch.targets);
    // What forward and loss left allocated is what autograd saved for backward (and the loss).
    if (measuring && m == 0) activation_bytes = tensor_memory::liveBytes() - live_before_forward;
    updater->beginBackward(/*last_micro_batch=*/m == micro_batches - 1);
    // Each micro-batch is an equal share of the local batch: the mean of their means is the mean.
    if (loss_scale == 1.0) {
      (loss / micro_batches).backward();
    } else {
      (loss * (loss_scale / micro_batches)).backward();
    }
    loss_sum += loss.item<double>();
  }
  updater->finishReduction();
  return loss_sum / micro_batches;
}

double Trainer::State::evaluate() {
  if (pipelined()) return pipelineEvaluate();
  torch::NoGradGuard no_grad;
  const EvalModeScope eval_mode(*model);
  ActivityScope activity("evaluation");
  double sum = 0.0;
  for (int b = 0; b < project.train.eval_batches; ++b) {
    const Batch batch = localTokens(sampler->evalBatch(b, firstLocalSequence(), project.localBatch()));
    sum += model->loss(batch.inputs, batch.targets).item<double>();
  }
  at::Tensor mean = at::full({1}, sum / project.train.eval_batches, at::kDouble);
  data.allReduce(mean, ReduceOp::Avg);
  return mean.item<double>();
}

void Trainer::State::setUpPipeline() {
  const Plan& plan = project.plan;
  PipelineShape shape;
  shape.stages = plan.pp;
  shape.virtual_stages = plan.pp_virtual;
  shape.micro_batches = project.microBatches();
  const PipelineSchedule schedule = pipelineScheduleFromName(plan.pp_schedule);
  std::vector<PipelineAction> actions = buildPipelineSchedule(schedule, shape).at(static_cast<std::size_t>(pp.rank()));
  enableWeightGradientDeferral(schedule == PipelineSchedule::zero_bubble);
  const at::ScalarType dtype = project.precision == Precision::bf16 ? at::kBFloat16 : at::kFloat;
  pipeline = std::make_unique<PipelineExecutor>(
      *model, pp, shape, std::move(actions),
      boundaryShape(project.microBatchSize()), dtype);
  if (project.train.trace) {
    // A fresh run starts fresh timelines; a resumed one continues them.
    std::filesystem::create_directories(traceDirectory(project.train.out_dir));
    if (!options.resume_from) std::ofstream(traceFile(project.train.out_dir, world.rank()), std::ios::trunc);
  }
  if (project.model.tie_embeddings) {
    const int first = pp.ranks().front();
    const int last = pp.ranks().back();
    if (pp.rank() == 0 || pp.rank() == pp.size() - 1) {
      tied_group = &world.subgroup("tied-embedding", {first, last});
      for (std::size_t k = 0; k < names.size(); ++k) {
        if (names[k] == "tok_emb.weight") tied_param = k;
      }
    }
  }
}

double Trainer::State::pipelineStep(int step) {
  const int micro = project.microBatchSize();
  const int micro_batches = project.microBatches();
  updater->zeroGrad();
  // Every micro-batch's backward of every chunk accumulates first; the dp reduction waits for the
  // schedule's end (finishReduction launches it), so no bucket is reduced half-accumulated.
  updater->beginBackward(/*last_micro_batch=*/false);
  const auto input = [&](int m) {
    const int first_sample = firstLocalSequence() + m * micro;
    const Batch batch = localTokens(sampler->globalBatchSlice(step, first_sample, micro));
    return MicroBatchInput{batch.inputs, batch.targets, DropoutContext{project.train.seed, step, first_sample}};
  };
  PipelineStepResult result = pipeline->runStep(input, updater->lossScale() / micro_batches);
  if (project.train.measure_memory) activation_bytes = result.peak_activation_bytes;
  // The stage's measured bubble: of the schedule's time on this rank, the part not computing.
  double busy = 0.0;
  double span = 0.0;
  for (const TimedAction& timed : result.timeline) {
    if (isComputeAction(timed.action.kind)) busy += timed.end - timed.start;
    span = std::max(span, timed.end);
  }
  bubble_fraction = span > 0.0 ? std::max(0.0, 1.0 - busy / span) : 0.0;
  if (tied_group != nullptr) {
    // The embedding's two copies saw different uses (lookup on the first stage, head on the
    // last): the gradient of the shared weight is their sum, before any dp reduction.
    ActivityScope activity("summing the tied embedding's gradient between the first and last stage");
    at::Tensor grad = working[tied_param].mutable_grad();
    if (!grad.defined()) grad = working[tied_param].mutable_grad() = at::zeros_like(working[tied_param]);
    tied_group->allReduce(grad);
  }
  updater->finishReduction();
  // Only the last stage computed the loss; every stage reports it.
  at::Tensor loss = at::full({1}, result.loss_sum, at::kDouble);
  pp.allReduce(loss);
  last_pipeline_step = std::move(result);
  return loss.item<double>() / micro_batches;
}

double Trainer::State::pipelineEvaluate() {
  const EvalModeScope eval_mode(*model);
  ActivityScope activity("evaluation");
  const int batches = project.train.eval_batches;
  const auto input = [&](int b) {
    const Batch batch = localTokens(sampler->evalBatch(b, firstLocalSequence(), project.localBatch()));
    return MicroBatchInput{batch.inputs, batch.targets, DropoutContext{}};
  };
  const double sum = pipeline->evaluate(input, batches, boundaryShape(project.localBatch()));
  at::Tensor mean = at::full({1}, sum / batches, at::kDouble);
  pp.allReduce(mean);
  data.allReduce(mean, ReduceOp::Avg);
  return mean.item<double>();
}

void Trainer::State::writeTrace(int step) const {
  if (!last_pipeline_step) return;
  StepTrace trace;
  trace.step = step + 1;
  trace.rank = world.rank();
  trace.stage = pp.rank();
  trace.pp = pp.size();
  trace.dp_rank = dp.rank();
  trace.tp_rank = tp.rank();
  trace.step_start = last_pipeline_step->step_start;
  trace.actions = last_pipeline_step->timeline;
  std::ofstream(traceFile(project.train.out_dir, world.rank()), std::ios::app) << stepTraceToJsonLine(trace) << '\n';
}

namespace {

// The logging window's seconds per step of each kind of work, averaged over the ranks, with
// "other": the step's time outside every timed operator (the engine's own code, waiting on locks).
std::map<std::string, double> meanProfileOverRanks(Group& everyone, const std::array<double, kOpKindCount>& window,
                                                   double window_seconds, int window_steps) {
  at::Tensor mine = at::zeros({kOpKindCount + 1}, at::kDouble);
  for (int k = 0; k < kOpKindCount; ++k) mine[k] = window[k] / window_steps;
  mine[kOpKindCount] = window_seconds / window_steps;
  const at::Tensor mean = everyone.allGather(mine.unsqueeze(0), 0).mean(0);
  std::map<std::string, double> seconds;
  double timed = 0.0;
  for (int k = 0; k < kOpKindCount; ++k) {
    const double value = mean[k].item<double>();
    seconds[opKindName(static_cast<OpKind>(k))] = value;
    timed += value;
  }
  seconds["other"] = std::max(0.0, mean[kOpKindCount].item<double>() - timed);
  return seconds;
}

}  // namespace

TrainOutcome Trainer::run(EventSink* sink) {
  State& s = *state_;
  const Project& p = s.project;
  CommCounter& counter = s.world.counter();
  Group& everyone = s.world.world();
  TrainOutcome outcome;
  const double tokens_per_step = double(p.data.global_batch_size) * p.model.seq_len;
  const auto run_start = Clock::now();
  double window_seconds = 0.0;
  int window_steps = 0;

  outcome.first_step = s.start_step;
  const bool saving = s.options.write_checkpoints;
  std::int64_t last_saved = s.start_step;  // the resumed checkpoint is already on disk
  const auto emitSaved = [&](const CheckpointSavedInfo& info) {
    if (sink) sink->emit(checkpointSavedEvent(info));
  };
  const auto saveAt = [&](std::int64_t steps_done, const char* reason) {
    for (const auto& info : s.saver->save(s.checkpointParts(), s.trainingState(steps_done), reason)) emitSaved(info);
    last_saved = steps_done;
  };

  // train.profile: seconds per kind of work, summed over the steps of the logging window.
  std::optional<StepProfiler> profiler;
  if (p.train.profile) profiler.emplace();
  std::array<double, kOpKindCount> profile_window{};

  for (int step = static_cast<int>(s.start_step); step < p.train.steps; ++step) {
    failHereIfInjected(everyone.rank(), step);
    if (profiler) profiler->take();  // what ran between steps (evaluation, bookkeeping) is no step's
    const auto step_start = Clock::now();
    const std::int64_t allocations_before = p.train.measure_memory ? tensor_memory::allocationCount() : 0;
    counter.reset();
    const double local_loss = s.trainStep(step);
    if (p.train.trace) s.writeTrace(step);
    const double lr = learningRateAt(p.optimizer, step, p.train.steps);
    const UpdateOutcome update = [&] {
      const ProfileScope scope(OpKind::optimizer);
      return s.updater->step(lr);
    }();
    Zero3Engine* chunks = s.updater->chunkEngine();
    const std::optional<Zero3TierFigures> tiers = chunks ? std::optional(chunks->takeTierFigures()) : std::nullopt;
    const double grad_norm = update.grad_norm;
    const std::int64_t peak_tensor_bytes = p.train.measure_memory ? tensor_memory::peakBytes() : 0;
    const std::int64_t step_allocations = p.train.measure_memory ? tensor_memory::allocationCount() - allocations_before : 0;
    // The step's traffic: the gradient reduction and, under ZeRO, the norm and the all-gather.
    const auto comm_by_axis = counter.byLabel();
    const std::int64_t comm_bytes = counter.takeTotal();
    s.sampler->advance();
    const double step_seconds = secondsSince(step_start);
    window_seconds += step_seconds;
    ++window_steps;
    if (profiler) {
      const auto kinds = profiler->take();
      for (int k = 0; k < kOpKindCount; ++k) profile_window[k] += kinds[k];
    }

    // Bookkeeping collectives below are not part of the step's communication: not counted.
    at::Tensor loss = at::full({1}, local_loss, at::kDouble);
    s.data.allReduce(loss, ReduceOp::Avg);
    outcome.losses.push_back(loss.item<double>());

    const bool last = step + 1 == p.train.steps;
    std::optional<double> eval_loss;
    if (p.train.eval_every > 0 && ((step + 1) % p.train.eval_every == 0 || last)) {
      eval_loss = s.evaluate();
      outcome.eval_losses.emplace_back(step, *eval_loss);
      if (sink) sink->emit(evalEvent(step + 1, *eval_loss));
    }
    const bool log = p.train.log_every > 0 && ((step + 1) % p.train.log_every == 0 || last || step == 0);
    if (log) {
      // Every rank's model-state bytes, peak RSS, bytes moved by this step's collectives,
      // host-resident state and (measure_memory) the exact activation and peak tensor bytes: the
      // events carry their maxima, and the first two per rank.
      const at::Tensor mine = at::tensor({static_cast<double>(modelStateBytes()), static_cast<double>(peakResidentBytes()),
                                      static_cast<double>(comm_bytes), static_cast<double>(s.updater->hostStateBytes()),
                                      static_cast<double>(s.activation_bytes), static_cast<double>(peak_tensor_bytes),
                                      s.bubble_fraction, static_cast<double>(s.pp.rank()),
                                      tierValue(tiers, 0), tierValue(tiers, 1), tierValue(tiers, 2), tierValue(tiers, 3),
                                      tierValue(tiers, 4), tierValue(tiers, 5), tierValue(tiers, 6), tierValue(tiers, 7),
                                      static_cast<double>(step_allocations)},
                                     at::kDouble);
      const at::Tensor per_rank = everyone.allGather(mine.unsqueeze(0), 0);  // [world, 17]
      const at::Tensor maxima = std::get<0>(per_rank.max(0));
      StepMetrics metrics;
      metrics.step = step + 1;
      metrics.loss = outcome.losses.back();
      metrics.grad_norm = grad_norm;
      metrics.lr = lr;
      metrics.step_time_s = window_seconds / window_steps;
      metrics.tokens_per_s = tokens_per_step / metrics.step_time_s;
      metrics.model_state_bytes = static_cast<std::int64_t>(maxima[0].item<double>());
      metrics.peak_rss_bytes = static_cast<std::int64_t>(maxima[1].item<double>());
      metrics.comm_bytes = static_cast<std::int64_t>(maxima[2].item<double>());
      metrics.comm_bytes_by_axis = comm_by_axis;
      metrics.host_state_bytes = static_cast<std::int64_t>(maxima[3].item<double>());
      for (std::int64_t r = 0; r < per_rank.size(0); ++r) {
        metrics.rank_model_state_bytes.push_back(static_cast<std::int64_t>(per_rank[r][0].item<double>()));
        metrics.rank_peak_rss_bytes.push_back(static_cast<std::int64_t>(per_rank[r][1].item<double>()));
      }
      if (s.pipelined()) {
        // Per stage, the mean over its ranks (one per dp x tp coordinate).
        std::vector<double> sums(static_cast<std::size_t>(p.plan.pp), 0.0);
        std::vector<int> counts(static_cast<std::size_t>(p.plan.pp), 0);
        for (std::int64_t r = 0; r < per_rank.size(0); ++r) {
          const auto stage = static_cast<std::size_t>(per_rank[r][7].item<double>());
          sums[stage] += per_rank[r][6].item<double>();
          ++counts[stage];
          if (p.train.measure_memory) metrics.rank_activation_bytes.push_back(static_cast<std::int64_t>(per_rank[r][4].item<double>()));
        }
        for (std::size_t stage = 0; stage < sums.size(); ++stage) metrics.pipeline_bubble.push_back(sums[stage] / counts[stage]);
      }
      if (tiers) {
        std::vector<std::int64_t>* fields[] = {&metrics.rank_device_bytes,     &metrics.rank_host_bytes,
                                               &metrics.rank_disk_bytes,       &metrics.rank_device_peak_bytes,
                                               &metrics.rank_tier_moved_bytes, &metrics.rank_device_chunks,
                                               &metrics.rank_host_chunks,      &metrics.rank_disk_chunks};
        for (std::int64_t r = 0; r < per_rank.size(0); ++r) {
          for (int f = 0; f < 8; ++f) fields[f]->push_back(static_cast<std::int64_t>(per_rank[r][8 + f].item<double>()));
        }
        s.chunk_record->record(step + 1, *chunks, *tiers);
      }
      if (p.train.measure_memory) {
        metrics.activation_bytes = static_cast<std::int64_t>(maxima[4].item<double>());
        metrics.peak_tensor_bytes = static_cast<std::int64_t>(maxima[5].item<double>());
        metrics.tensor_allocations = static_cast<std::int64_t>(maxima[16].item<double>());
      }
      if (profiler) {
        metrics.profile_s = meanProfileOverRanks(everyone, profile_window, window_seconds, window_steps);
        profile_window.fill(0.0);
      }
      if (p.precision == Precision::fp16) metrics.loss_scale = update.loss_scale;
      metrics.skipped = update.skipped;
      metrics.eval_loss = eval_loss;
      metrics.tokens_seen = static_cast<std::int64_t>(tokens_per_step * (step + 1));
      metrics.elapsed_s = secondsSince(run_start);
      outcome.model_state_bytes = metrics.model_state_bytes;
      outcome.peak_rss_bytes = metrics.peak_rss_bytes;
      if (sink) sink->emit(stepEvent(metrics));
      window_seconds = 0.0;
      window_steps = 0;
    }
    counter.reset();

    // Step end, on every rank alike: did any rank get SIGINT/SIGTERM, is a background save done?
    const CheckpointSaver::StepEnd end = s.saver->stepEnd(stopRequested());
    if (end.saved) emitSaved(*end.saved);
    if (end.stop) {
      outcome.stopped = !last;
      if (saving && p.train.checkpoint_final && last_saved != step + 1) saveAt(step + 1, "stop");
      break;
    }
    if (saving && p.train.checkpoint_every > 0 && (step + 1) % p.train.checkpoint_every == 0 && !last) {
      saveAt(step + 1, "every");
    }
  }
  const std::int64_t steps_done = s.start_step + static_cast<std::int64_t>(outcome.losses.size());
  if (saving && !outcome.stopped && p.train.checkpoint_final && last_saved != steps_done) saveAt(steps_done, "final");
  if (auto info = s.saver->finish()) emitSaved(*info);
  if (saving && p.train.export_hf && !outcome.stopped && last_saved == steps_done && everyone.rank() == 0) {
    s.exportHuggingFace(steps_done, sink);
  }
  const double trained = static_cast<double>(outcome.losses.size());
  outcome.tokens_per_s = trained > 0 ? tokens_per_step * trained / secondsSince(run_start) : 0.0;
  return outcome;
}

std::vector<std::pair<std::string, at::Tensor>> Trainer::fullParameters() const {
  std::vector<std::pair<std::string, at::Tensor>> result;
  for (std::size_t k = 0; k < state_->names.size(); ++k) {
    const std::string& name = state_->names[k];
    at::Tensor local = state_->updater->fullParameter(k);
    result.emplace_back(name, gatherFullParameter(local, state_->tp_layout.placement(name), state_->tp));
  }
  if (state_->pipelined()) return gatherStageParameters(result, state_->pp);
  return result;
}

std::int64_t Trainer::modelStateBytes() const { return state_->updater->stateBytes(); }

std::int64_t Trainer::parameterCount() const { return state_->project.model.parameterCount(); }

std::int64_t Trainer::localParameterBytes() const {
  std::int64_t bytes = 0;
  for (const auto& w : state_->working) bytes += w.numel() * static_cast<std::int64_t>(w.element_size());
  return bytes;
}

}  // namespace behemoth
