// A project: the JSON file a user saves, opens in the Studio and runs with `behemoth run`.
// See docs/project-file.md for every field.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backend/model/model_config.h"
#include "parallel/plan.h"

namespace behemoth {

enum class Precision { fp32, bf16, fp16 };
std::string precisionName(Precision precision);
Precision precisionFromName(const std::string& name);  // throws std::invalid_argument naming "precision"

struct DataConfig {
  std::string corpus = "builtin";  // "builtin" or a path to a text or .jsonl file, or a folder of them
  // "byte" (one token per byte, today's default) or the path of a tokenizer (docs/data.md): the
  // corpus is then tokenized once into a cache beside train.out_dir.
  std::string tokenizer = "byte";
  int global_batch_size = 8;       // sequences per optimizer step, over all data-parallel ranks
  double eval_fraction = 0.05;     // tail of the corpus held out for evaluation
};

struct DevicesConfig {
  std::string kind = "cpu";  // "cpu" or "cuda"
  int count = 1;             // devices of the job (planning may describe hardware not present)
  double memory_gb = 0.0;    // per device; 0 = unknown
  int per_node = 0;          // devices per node; 0 = all on one node
  std::string name;          // e.g. "H100"
};

struct OptimizerConfig {
  std::string name = "adamw";
  double lr = 1e-3;
  double weight_decay = 0.1;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double grad_clip = 1.0;    // max global gradient norm; 0 disables clipping
  int warmup_steps = 0;
  double min_lr_ratio = 0.1; // cosine decays to lr * min_lr_ratio at the last step
  double loss_scale = 65536.0;  // fp16: initial dynamic loss scale
  int loss_scale_window = 1000; // fp16: clean steps in a row before the scale doubles
};

struct TrainConfig {
  int steps = 100;
  std::uint64_t seed = 0;
  int log_every = 10;
  int eval_every = 0;         // 0: no evaluation
  int eval_batches = 4;
  int micro_batch_size = 0;   // sequences per micro-batch per rank; 0 = whole local batch
  std::string out_dir = "runs/default";
  // Count every CPU tensor allocation in the workers (exact activation and peak tensor bytes in
  // the step events); off by default so normal runs keep the default allocator's speed.
  bool measure_memory = false;
  // Checkpoints (docs/checkpoints.md): every `checkpoint_every` steps (0: none along the way), the
  // newest `checkpoint_keep` kept, one at the end (`checkpoint_final`) and on SIGINT/SIGTERM;
  // written by a background thread while training goes on (`checkpoint_async`).
  int checkpoint_every = 0;
  int checkpoint_keep = 3;
  bool checkpoint_final = true;
  bool checkpoint_async = true;
  // Write OUT_DIR/hf, a Hugging Face model directory, from the final checkpoint (docs/hf-interop.md).
  bool export_hf = false;
  // Activation recomputation ("none", "selective": the attention core, "full": every block from
  // its input) and the per-rank timeline of the step's actions (docs/pipeline.md).
  std::string recompute = "none";
  bool trace = false;
  // Time every operator by kind (matmul, attention, norm, ...; docs/kernels.md) and report each
  // kind's seconds per step in the step events. Costs a little per operator: off by default.
  bool profile = false;
};

// `behemoth serve` (docs/serving.md): the batch, the queue and the paged KV cache.
struct ServeConfig {
  int max_batch = 16;         // sequences decoded together; more requests wait in the queue
  int max_queue = 64;         // waiting requests; one more is answered 503 at once
  int block_tokens = 16;      // tokens per KV-cache block
  int kv_blocks = 0;          // blocks in the cache pool; 0: max_batch sequences of model.seq_len
  int prefill_chunk = 256;    // prompt tokens prefilled per step, so decoding sequences keep going
  int max_tokens = 1024;      // the largest max_tokens a request may ask for
  // Attention sinks (StreamingLLM): when a sequence's cache reaches model.seq_len it keeps its first
  // `sink_tokens` and its last `kv_window` tokens and goes on; 0: a request whose prompt plus
  // max_tokens passes model.seq_len is refused.
  int kv_window = 0;
  int sink_tokens = 4;
  // Blocks the pool holds: kv_blocks, or enough for max_batch sequences of `seq_len` tokens.
  int poolBlocks(std::int64_t seq_len) const;
};

struct Project {
  std::string name = "untitled";
  ModelConfig model;
  std::optional<std::string> model_hf_config;  // path of a Hugging Face config.json, if used
  // A Hugging Face model directory whose weights initialise the model (its config.json gives the sizes).
  std::optional<std::string> model_hf_pretrained;
  DataConfig data;
  DevicesConfig devices;
  Plan plan;
  Precision precision = Precision::fp32;
  OptimizerConfig optimizer;
  TrainConfig train;
  ServeConfig serve;

  // Per-rank local batch and micro-batch counts for a resolved plan.
  int localBatch() const { return data.global_batch_size / plan.dp; }
  int microBatchSize() const { return train.micro_batch_size > 0 ? train.micro_batch_size : localBatch(); }
  int microBatches() const { return localBatch() / microBatchSize(); }
};

// Parses and validates a project. Errors are std::invalid_argument whose message starts with the
// JSON path of the field ("model.n_head: ..."). `base_dir` resolves relative paths in the file.
Project projectFromJson(const nlohmann::json& json, const std::string& base_dir = ".");
nlohmann::json projectToJson(const Project& project);
Project loadProject(const std::string& path);
// Reads a project file, applies `--set` overrides in order, then parses it (relative paths resolve
// against the file's folder). JSON syntax errors name the file.
Project loadProject(const std::string& path, const std::vector<std::string>& overrides);
nlohmann::json readProjectJson(const std::string& path);
// The `parallel` section of a plan, exactly as projectToJson writes it (events and history use it).
nlohmann::json planToJson(const Plan& plan);
// Applies `--set key=value` overrides (dotted paths, values parsed as JSON when they parse).
void applyOverride(nlohmann::json& json, const std::string& assignment);
// Resolves the plan against a world size and checks everything that depends on it (batch
// divisibility, strategies not available yet). Throws std::invalid_argument naming the field.
void validateForWorld(Project& project, int world_size);
// Refuses sizes whose products leave the range any machine (and 64-bit byte counts) can hold.
// Called by validateForWorld and by planning.
void checkProjectScale(const Project& project);
// The one place that lists what this build cannot run yet (strategies, precisions, devices).
// Called by validateForWorld; relax it here as strategies land.
void rejectUnavailableFeatures(const Project& project);

}  // namespace behemoth
