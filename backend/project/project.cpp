// Project files: strict parsing (every error names its JSON path), serialization and `--set` overrides.
#include "backend/project/project.h"

#include <nlohmann/json.hpp>

#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "backend/hf/hf_checkpoint.h"
#include "backend/model/hf_config.h"
#include "backend/project/json_fields.h"
#include "backend/project/saved_model.h"
#include "backend/project/strict_json.h"
#include "memory/chunk_placement.h"

namespace behemoth {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kBuiltinCorpus = "builtin";
constexpr const char* kByteTokenizer = "byte";

std::string resolveAgainst(const std::string& base_dir, const std::string& path) {
  const fs::path given(path);
  if (given.is_absolute()) return given.lexically_normal().string();
  return fs::absolute(fs::path(base_dir) / given).lexically_normal().string();
}

void requireAtLeast(const JsonFields& fields, const char* key, int value, int minimum) {
  if (value < minimum) fields.fail(key, "must be >= " + std::to_string(minimum) + ", got " + std::to_string(value));
}

void requireAtMost(const JsonFields& fields, const char* key, double value, double maximum) {
  if (value > maximum) fields.fail(key, "must be at most " + json(maximum).dump() + ", got " + json(value).dump());
}

void requirePositive(const JsonFields& fields, const char* key, double value) {
  if (!(value > 0.0)) fields.fail(key, "must be > 0, got " + json(value).dump());
}

void requireInRange(const JsonFields& fields, const char* key, double value, double low, double high, bool high_open) {
  const bool ok = value >= low && (high_open ? value < high : value <= high);
  if (!ok) {
    fields.fail(key, "must be in [" + json(low).dump() + ", " + json(high).dump() + (high_open ? ")" : "]") +
                         ", got " + json(value).dump());
  }
}

ModelConfig parseModel(const json& section, const std::string& base_dir, std::optional<std::string>& hf_path,
                       std::optional<std::string>& pretrained_dir) {
  const JsonFields fields(section, "model",
                          {"arch", "n_layer", "n_head", "n_kv_head", "d_model", "d_ff", "seq_len", "vocab_size",
                           "norm_eps", "rope_theta", "tie_embeddings", "dropout", "init_std", "attention",
                           "attention_block", "kernels", "hf_config", "hf_pretrained"});
  ModelConfig model;
  hf_path.reset();
  pretrained_dir.reset();
  if (fields.has("hf_pretrained")) {
    // A Hugging Face model directory: its config.json gives the sizes, its weights the values.
    if (fields.has("hf_config")) fields.fail("hf_config", "give model.hf_pretrained or model.hf_config, not both");
    std::string given;
    fields.read("hf_pretrained", given);
    const std::string dir = resolveAgainst(base_dir, given);
    std::error_code error;
    if (!fs::is_directory(dir, error)) fields.fail("hf_pretrained", "no such directory: " + dir.substr(0, 200));
    const std::string config = (fs::path(dir) / "config.json").string();
    if (!fs::is_regular_file(config, error)) fields.fail("hf_pretrained", dir.substr(0, 200) + " has no config.json");
    try {
      model = modelConfigFromHfFile(config);
    } catch (const std::exception& failure) {
      fields.fail("hf_pretrained", std::string(failure.what()));
    }
    pretrained_dir = dir;
  }
  if (fields.has("hf_config")) {
    std::string given;
    fields.read("hf_config", given);
    const std::string path = resolveAgainst(base_dir, given);
    std::error_code error;
    if (!fs::is_regular_file(path, error)) fields.fail("hf_config", "no such file: " + path.substr(0, 200));
    try {
      model = modelConfigFromHfFile(path);
    } catch (const std::exception& error) {
      fields.fail("hf_config", std::string(error.what()));
    }
    hf_path = path;
  }
  if (fields.has("arch")) {
    std::string name;
    fields.read("arch", name);
    if (name != "gpt" && name != "llama") fields.fail("arch", "unknown architecture '" + name + "' (expected gpt or llama)");
    model.arch = archFromName(name);
    // Without a config.json to say otherwise, GPT-2 ties its embeddings and LLaMA does not.
    if (!hf_path && !pretrained_dir) model.tie_embeddings = model.arch == Arch::gpt;
  }
  fields.read("n_layer", model.n_layer);
  fields.read("n_head", model.n_head);
  fields.read("n_kv_head", model.n_kv_head);
  fields.read("d_model", model.d_model);
  fields.read("d_ff", model.d_ff);
  fields.read("seq_len", model.seq_len);
  fields.read("vocab_size", model.vocab_size);
  fields.read("norm_eps", model.norm_eps);
  fields.read("rope_theta", model.rope_theta);
  fields.read("tie_embeddings", model.tie_embeddings);
  fields.read("dropout", model.dropout);
  fields.read("init_std", model.init_std);
  if (fields.has("attention")) {
    std::string name;
    fields.read("attention", name);
    if (name != "auto" && name != "dense" && name != "blockwise") {
      fields.fail("attention", "unknown attention '" + name + "' (expected auto, dense or blockwise)");
    }
    model.attention = attentionKindFromName(name);
  }
  fields.read("attention_block", model.attention_block);
  if (fields.has("kernels")) {
    std::string name;
    fields.read("kernels", name);
    if (name != "fused" && name != "aten") fields.fail("kernels", "unknown kernels '" + name + "' (expected fused or aten)");
    model.kernels = kernelKindFromName(name);
  }
  model.validate();
  // The weights must be what these sizes build: every tensor present, none extra, shapes equal.
  if (pretrained_dir) {
    try {
      HfCheckpoint::open(*pretrained_dir, model);
    } catch (const std::invalid_argument& failure) {
      const std::string text = failure.what();
      const std::string prefix = "model.hf_pretrained: ";
      fields.fail("hf_pretrained", text.rfind(prefix, 0) == 0 ? text.substr(prefix.size()) : text);
    }
  }
  return model;
}

}  // namespace

ModelConfig modelConfigOfSavedProject(const json& project) {
  if (!project.is_object() || !project.contains("model")) throw std::invalid_argument("model: missing");
  json section = project.at("model");
  section.erase("hf_config");
  section.erase("hf_pretrained");
  std::optional<std::string> hf_config;
  std::optional<std::string> pretrained;
  return parseModel(section, ".", hf_config, pretrained);
}

namespace {

DataConfig parseData(const json& section, const std::string& base_dir) {
  const JsonFields fields(section, "data", {"corpus", "tokenizer", "global_batch_size", "eval_fraction"});
  DataConfig data;
  fields.read("corpus", data.corpus);
  fields.read("tokenizer", data.tokenizer);
  fields.read("global_batch_size", data.global_batch_size);
  fields.read("eval_fraction", data.eval_fraction);
  if (data.corpus.empty()) fields.fail("corpus", "must not be empty (use \"builtin\" for the embedded corpus)");
  if (data.corpus != kBuiltinCorpus) data.corpus = resolveAgainst(base_dir, data.corpus);
  if (data.tokenizer.empty()) fields.fail("tokenizer", "must not be empty (use \"byte\" for one token per byte)");
  if (data.tokenizer != kByteTokenizer) {
    // Opening it (and comparing its vocabulary with model.vocab_size) is the pre-launch check's
    // job (checkTokenizerForProject); a path that is not there is refused here already.
    data.tokenizer = resolveAgainst(base_dir, data.tokenizer);
    std::error_code error;
    if (!fs::exists(data.tokenizer, error)) fields.fail("tokenizer", "no such file or folder: " + data.tokenizer.substr(0, 200));
  }
  requireAtLeast(fields, "global_batch_size", data.global_batch_size, 1);
  requireAtMost(fields, "global_batch_size", data.global_batch_size, 1 << 24);
  requireInRange(fields, "eval_fraction", data.eval_fraction, 0.0, 1.0, true);
  return data;
}

DevicesConfig parseDevices(const json& section) {
  const JsonFields fields(section, "devices", {"kind", "count", "memory_gb", "per_node", "name"});
  DevicesConfig devices;
  fields.read("kind", devices.kind);
  fields.read("count", devices.count);
  fields.read("memory_gb", devices.memory_gb);
  fields.read("per_node", devices.per_node);
  fields.read("name", devices.name);
  if (devices.kind != "cpu" && devices.kind != "cuda") {
    fields.fail("kind", "unknown device kind '" + devices.kind + "' (expected cpu or cuda)");
  }
  requireAtLeast(fields, "count", devices.count, 1);
  requireAtMost(fields, "count", devices.count, 1 << 20);
  requireAtMost(fields, "memory_gb", devices.memory_gb, 1e6);
  requireAtMost(fields, "per_node", devices.per_node, 1 << 20);
  if (!(devices.memory_gb >= 0.0)) fields.fail("memory_gb", "must be >= 0 (0 = unknown), got " + json(devices.memory_gb).dump());
  requireAtLeast(fields, "per_node", devices.per_node, 0);
  return devices;
}

std::array<Axis, kAxisCount> parseAxisOrder(const JsonFields& fields) {
  const json& list = fields.at("order");
  const std::string path = fields.pathOf("order");
  if (!list.is_array()) throw std::invalid_argument(path + ": expected an array of axis names, got " + describeJsonValue(list));
  std::vector<Axis> named;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string item_path = path + "[" + std::to_string(i) + "]";
    if (!list[i].is_string()) throw std::invalid_argument(item_path + ": expected an axis name, got " + describeJsonValue(list[i]));
    Axis axis{};
    try {
      axis = axisFromName(list[i].get<std::string>());
    } catch (const std::invalid_argument& error) {
      throw std::invalid_argument(item_path + ": " + error.what());
    }
    for (Axis seen : named) {
      if (seen == axis) throw std::invalid_argument(item_path + ": axis '" + std::string(axisName(axis)) + "' is named twice");
    }
    named.push_back(axis);
  }
  // Axes left out keep their default relative order, outermost, ahead of the ones named.
  std::array<Axis, kAxisCount> order{};
  std::size_t next = 0;
  for (Axis axis : Plan{}.order) {
    bool listed = false;
    for (Axis seen : named) listed = listed || seen == axis;
    if (!listed) order[next++] = axis;
  }
  for (Axis axis : named) order[next++] = axis;
  return order;
}

// parallel.pp_layers: an array of positive integers (blocks per virtual stage); [] = even split.
std::vector<int> parseLayerCounts(const JsonFields& fields) {
  const json& value = fields.at("pp_layers");
  if (!value.is_array()) {
    fields.fail("pp_layers", "must be an array of block counts per stage, got " + describeJsonValue(value));
  }
  std::vector<int> counts;
  for (std::size_t k = 0; k < value.size(); ++k) {
    const json& item = value[k];
    if (!item.is_number_integer() || item.get<std::int64_t>() < 1 || item.get<std::int64_t>() > (1 << 20)) {
      fields.fail("pp_layers", "entry " + std::to_string(k) + " must be a positive whole number of blocks, got " +
                                   describeJsonValue(item));
    }
    counts.push_back(item.get<int>());
  }
  return counts;
}

Plan parsePlan(const json& section) {
  const JsonFields fields(section, "parallel", {"dp", "pp", "tp", "tp_mode", "tp_depth", "sp", "sp_mode", "ep", "sequence_parallel", "zero", "bucket_mb",
                                                  "overlap", "offload_optimizer", "reduce_dtype", "order",
                                                  "pp_schedule", "pp_virtual", "pp_layers", "chunk_mb", "device_budget_mb",
                                                  "placement", "offload_param_fraction", "offload_optim_fraction",
                                                  "disk_optim_fraction", "offload_dir", "prefetch"});
  Plan plan;
  fields.read("dp", plan.dp);
  fields.read("pp", plan.pp);
  fields.read("tp", plan.tp);
  fields.read("sp", plan.sp);
  fields.read("ep", plan.ep);
  fields.read("sequence_parallel", plan.sequence_parallel);
  fields.read("tp_mode", plan.tp_mode);
  if (plan.tp_mode != "1d" && plan.tp_mode != "2d" && plan.tp_mode != "2.5d" && plan.tp_mode != "3d") {
    fields.fail("tp_mode", "unknown mode '" + plan.tp_mode + "' (expected 1d, 2d, 2.5d or 3d)");
  }
  fields.read("tp_depth", plan.tp_depth);
  requireAtLeast(fields, "tp_depth", plan.tp_depth, 1);
  requireAtMost(fields, "tp_depth", plan.tp_depth, 1 << 10);
  fields.read("sp_mode", plan.sp_mode);
  if (plan.sp_mode != "ulysses" && plan.sp_mode != "ring") {
    fields.fail("sp_mode", "unknown mode '" + plan.sp_mode + "' (expected ulysses or ring)");
  }
  fields.read("zero", plan.zero);
  fields.read("bucket_mb", plan.bucket_mb);
  fields.read("overlap", plan.overlap);
  fields.read("offload_optimizer", plan.offload_optimizer);
  fields.read("reduce_dtype", plan.reduce_dtype);
  if (plan.reduce_dtype != "auto" && plan.reduce_dtype != "fp32" && plan.reduce_dtype != "bf16" &&
      plan.reduce_dtype != "fp16") {
    fields.fail("reduce_dtype", "unknown dtype '" + plan.reduce_dtype + "' (expected auto, fp32, bf16 or fp16)");
  }
  if (fields.has("order")) plan.order = parseAxisOrder(fields);
  fields.read("pp_schedule", plan.pp_schedule);
  if (plan.pp_schedule != "gpipe" && plan.pp_schedule != "1f1b" && plan.pp_schedule != "interleaved" &&
      plan.pp_schedule != "zero_bubble") {
    fields.fail("pp_schedule", "unknown schedule '" + plan.pp_schedule + "' (expected gpipe, 1f1b, interleaved or zero_bubble)");
  }
  fields.read("pp_virtual", plan.pp_virtual);
  requireAtLeast(fields, "pp_virtual", plan.pp_virtual, 1);
  requireAtMost(fields, "pp_virtual", plan.pp_virtual, 1 << 10);
  if (plan.pp_virtual > 1 && plan.pp_schedule != "interleaved") {
    fields.fail("pp_virtual", "model chunks per rank (" + std::to_string(plan.pp_virtual) +
                                  ") need parallel.pp_schedule \"interleaved\", not \"" + plan.pp_schedule + "\"");
  }
  if (fields.has("pp_layers")) plan.pp_layers = parseLayerCounts(fields);
  fields.read("chunk_mb", plan.chunk_mb);
  fields.read("device_budget_mb", plan.device_budget_mb);
  fields.read("placement", plan.placement);
  fields.read("offload_param_fraction", plan.offload_param_fraction);
  fields.read("offload_optim_fraction", plan.offload_optim_fraction);
  fields.read("disk_optim_fraction", plan.disk_optim_fraction);
  fields.read("offload_dir", plan.offload_dir);
  fields.read("prefetch", plan.prefetch);
  // The fractions' ranges (and host + disk <= 1), with the engine's own messages.
  staticPlacement(1, false, plan.offload_param_fraction, plan.offload_optim_fraction, plan.disk_optim_fraction);
  if (plan.placement != "static" && plan.placement != "auto") {
    fields.fail("placement", "unknown placement '" + plan.placement + "' (expected static or auto)");
  }
  if (plan.dp != -1 && plan.dp < 1) fields.fail("dp", "must be >= 1 or -1 (whatever the other axes leave), got " + std::to_string(plan.dp));
  const std::pair<const char*, int> axes[] = {{"dp", plan.dp}, {"pp", plan.pp}, {"tp", plan.tp}, {"sp", plan.sp}, {"ep", plan.ep}};
  for (const auto& [axis, size] : axes) requireAtMost(fields, axis, size, 1 << 20);
  requireAtMost(fields, "bucket_mb", plan.bucket_mb, 1e6);
  requireAtLeast(fields, "pp", plan.pp, 1);
  requireAtLeast(fields, "tp", plan.tp, 1);
  requireAtLeast(fields, "sp", plan.sp, 1);
  requireAtLeast(fields, "ep", plan.ep, 1);
  if (plan.zero < 0 || plan.zero > 3) fields.fail("zero", "must be 0, 1, 2 or 3, got " + std::to_string(plan.zero));
  requirePositive(fields, "bucket_mb", plan.bucket_mb);
  return plan;
}

OptimizerConfig parseOptimizer(const json& section) {
  const JsonFields fields(section, "optimizer",
                          {"name", "lr", "weight_decay", "beta1", "beta2", "eps", "grad_clip", "warmup_steps", "min_lr_ratio",
                           "loss_scale", "loss_scale_window"});
  OptimizerConfig optimizer;
  fields.read("name", optimizer.name);
  fields.read("lr", optimizer.lr);
  fields.read("weight_decay", optimizer.weight_decay);
  fields.read("beta1", optimizer.beta1);
  fields.read("beta2", optimizer.beta2);
  fields.read("eps", optimizer.eps);
  fields.read("grad_clip", optimizer.grad_clip);
  fields.read("warmup_steps", optimizer.warmup_steps);
  fields.read("min_lr_ratio", optimizer.min_lr_ratio);
  fields.read("loss_scale", optimizer.loss_scale);
  fields.read("loss_scale_window", optimizer.loss_scale_window);
  if (optimizer.name != "adamw") fields.fail("name", "unknown optimizer '" + optimizer.name + "' (expected adamw)");
  requirePositive(fields, "lr", optimizer.lr);
  if (!(optimizer.weight_decay >= 0.0)) fields.fail("weight_decay", "must be >= 0, got " + json(optimizer.weight_decay).dump());
  requireInRange(fields, "beta1", optimizer.beta1, 0.0, 1.0, true);
  requireInRange(fields, "beta2", optimizer.beta2, 0.0, 1.0, true);
  requirePositive(fields, "eps", optimizer.eps);
  if (!(optimizer.grad_clip >= 0.0)) fields.fail("grad_clip", "must be >= 0 (0 disables clipping), got " + json(optimizer.grad_clip).dump());
  requireAtLeast(fields, "warmup_steps", optimizer.warmup_steps, 0);
  requireInRange(fields, "min_lr_ratio", optimizer.min_lr_ratio, 0.0, 1.0, false);
  requirePositive(fields, "loss_scale", optimizer.loss_scale);
  requireAtLeast(fields, "loss_scale_window", optimizer.loss_scale_window, 1);
  return optimizer;
}

TrainConfig parseTrain(const json& section) {
  const JsonFields fields(section, "train",
                          {"steps", "seed", "log_every", "eval_every", "eval_batches", "micro_batch_size", "out_dir",
                           "measure_memory", "checkpoint_every", "checkpoint_keep", "checkpoint_final",
                           "checkpoint_async", "export_hf", "recompute", "trace", "profile"});
  TrainConfig train;
  fields.read("steps", train.steps);
  fields.read("seed", train.seed);
  fields.read("log_every", train.log_every);
  fields.read("eval_every", train.eval_every);
  fields.read("eval_batches", train.eval_batches);
  fields.read("micro_batch_size", train.micro_batch_size);
  fields.read("out_dir", train.out_dir);
  fields.read("measure_memory", train.measure_memory);
  fields.read("checkpoint_every", train.checkpoint_every);
  fields.read("checkpoint_keep", train.checkpoint_keep);
  fields.read("checkpoint_final", train.checkpoint_final);
  fields.read("checkpoint_async", train.checkpoint_async);
  fields.read("export_hf", train.export_hf);
  if (train.export_hf && !train.checkpoint_final) {
    fields.fail("export_hf", "needs train.checkpoint_final: the export is written from the final checkpoint");
  }
  fields.read("recompute", train.recompute);
  if (train.recompute != "none" && train.recompute != "selective" && train.recompute != "full") {
    fields.fail("recompute", "unknown recomputation '" + train.recompute + "' (expected none, selective or full)");
  }
  fields.read("trace", train.trace);
  fields.read("profile", train.profile);
  requireAtLeast(fields, "checkpoint_every", train.checkpoint_every, 0);
  requireAtLeast(fields, "checkpoint_keep", train.checkpoint_keep, 1);
  requireAtLeast(fields, "steps", train.steps, 1);
  requireAtLeast(fields, "log_every", train.log_every, 1);
  requireAtLeast(fields, "eval_every", train.eval_every, 0);
  requireAtLeast(fields, "eval_batches", train.eval_batches, 1);
  requireAtLeast(fields, "micro_batch_size", train.micro_batch_size, 0);
  if (train.out_dir.empty()) fields.fail("out_dir", "must not be empty");
  return train;
}

ServeConfig parseServe(const json& section, const ModelConfig& model) {
  const JsonFields fields(section, "serve",
                          {"max_batch", "max_queue", "block_tokens", "kv_blocks", "prefill_chunk", "max_tokens",
                           "kv_window", "sink_tokens"});
  ServeConfig serve;
  fields.read("max_batch", serve.max_batch);
  fields.read("max_queue", serve.max_queue);
  fields.read("block_tokens", serve.block_tokens);
  fields.read("kv_blocks", serve.kv_blocks);
  fields.read("prefill_chunk", serve.prefill_chunk);
  fields.read("max_tokens", serve.max_tokens);
  fields.read("kv_window", serve.kv_window);
  fields.read("sink_tokens", serve.sink_tokens);
  requireAtLeast(fields, "max_batch", serve.max_batch, 1);
  requireAtLeast(fields, "max_queue", serve.max_queue, 0);
  requireAtLeast(fields, "block_tokens", serve.block_tokens, 1);
  requireAtLeast(fields, "kv_blocks", serve.kv_blocks, 0);
  requireAtLeast(fields, "prefill_chunk", serve.prefill_chunk, 1);
  requireAtLeast(fields, "max_tokens", serve.max_tokens, 1);
  requireAtLeast(fields, "kv_window", serve.kv_window, 0);
  requireAtLeast(fields, "sink_tokens", serve.sink_tokens, 0);
  // The cache keeps sinks + window tokens and needs room past them for the tokens that come next.
  if (serve.kv_window > 0 && serve.sink_tokens + serve.kv_window >= model.seq_len) {
    fields.fail("kv_window", "sink_tokens + kv_window = " + std::to_string(serve.sink_tokens + serve.kv_window) +
                                 " must be below model.seq_len = " + std::to_string(model.seq_len) +
                                 " (the positions the model was trained on)");
  }
  const std::int64_t per_sequence = (model.seq_len + serve.block_tokens - 1) / serve.block_tokens;
  if (serve.kv_blocks > 0 && serve.kv_blocks < per_sequence) {
    fields.fail("kv_blocks", std::to_string(serve.kv_blocks) + " blocks cannot hold one sequence of model.seq_len = " +
                                 std::to_string(model.seq_len) + " tokens (" + std::to_string(per_sequence) +
                                 " blocks of " + std::to_string(serve.block_tokens) + ")");
  }
  return serve;
}

json axisOrderToJson(const std::array<Axis, kAxisCount>& order) {
  json names = json::array();
  for (Axis axis : order) names.push_back(std::string(axisName(axis)));
  return names;
}

// Splits "a.b.c" into its segments; empty segments are an error.
std::vector<std::string> splitDottedPath(const std::string& key, const std::string& assignment) {
  std::vector<std::string> segments;
  std::string segment;
  std::istringstream stream(key);
  while (std::getline(stream, segment, '.')) {
    if (segment.empty()) throw std::invalid_argument("--set " + assignment + ": empty segment in the key path");
    segments.push_back(segment);
  }
  if (segments.empty() || key.back() == '.') throw std::invalid_argument("--set " + assignment + ": empty segment in the key path");
  return segments;
}

}  // namespace

int ServeConfig::poolBlocks(std::int64_t seq_len) const {
  if (kv_blocks > 0) return kv_blocks;
  return static_cast<int>(max_batch * ((seq_len + block_tokens - 1) / block_tokens));
}

std::string precisionName(Precision precision) {
  switch (precision) {
    case Precision::fp32: return "fp32";
    case Precision::bf16: return "bf16";
    case Precision::fp16: return "fp16";
  }
  return "fp32";
}

Precision precisionFromName(const std::string& name) {
  for (Precision precision : {Precision::fp32, Precision::bf16, Precision::fp16}) {
    if (precisionName(precision) == name) return precision;
  }
  throw std::invalid_argument("precision: unknown precision '" + name + "' (expected fp32, bf16 or fp16)");
}

Project projectFromJson(const json& document, const std::string& base_dir) {
  const JsonFields fields(document, "",
                          {"name", "model", "data", "devices", "parallel", "precision", "optimizer", "train", "serve"});
  Project project;
  fields.read("name", project.name);
  if (project.name.empty()) fields.fail("name", "must not be empty");
  if (!fields.has("model")) throw std::invalid_argument("model: required section is missing");
  project.model = parseModel(fields.at("model"), base_dir, project.model_hf_config, project.model_hf_pretrained);
  if (fields.has("data")) project.data = parseData(fields.at("data"), base_dir);
  if (fields.has("devices")) project.devices = parseDevices(fields.at("devices"));
  if (fields.has("parallel")) project.plan = parsePlan(fields.at("parallel"));
  if (fields.has("precision")) {
    std::string name;
    fields.read("precision", name);
    project.precision = precisionFromName(name);
  }
  if (fields.has("optimizer")) project.optimizer = parseOptimizer(fields.at("optimizer"));
  if (fields.has("train")) project.train = parseTrain(fields.at("train"));
  if (fields.has("serve")) project.serve = parseServe(fields.at("serve"), project.model);
  return project;
}

json planToJson(const Plan& plan) {
  return {{"dp", plan.dp},       {"pp", plan.pp},
          {"tp", plan.tp},       {"tp_mode", plan.tp_mode},
          {"tp_depth", plan.tp_depth}, {"sp", plan.sp},
          {"sp_mode", plan.sp_mode}, {"ep", plan.ep},
          {"sequence_parallel", plan.sequence_parallel}, {"zero", plan.zero},
          {"bucket_mb", plan.bucket_mb}, {"overlap", plan.overlap},
          {"offload_optimizer", plan.offload_optimizer}, {"reduce_dtype", plan.reduce_dtype},
          {"order", axisOrderToJson(plan.order)}, {"pp_schedule", plan.pp_schedule},
          {"pp_virtual", plan.pp_virtual}, {"pp_layers", plan.pp_layers},
          {"chunk_mb", plan.chunk_mb}, {"device_budget_mb", plan.device_budget_mb},
          {"placement", plan.placement}, {"offload_param_fraction", plan.offload_param_fraction},
          {"offload_optim_fraction", plan.offload_optim_fraction}, {"disk_optim_fraction", plan.disk_optim_fraction},
          {"offload_dir", plan.offload_dir}, {"prefetch", plan.prefetch}};
}

json projectToJson(const Project& project) {
  const ModelConfig& m = project.model;
  json model = {{"arch", archName(m.arch)},   {"n_layer", m.n_layer},       {"n_head", m.n_head},
                {"n_kv_head", m.n_kv_head},   {"d_model", m.d_model},       {"d_ff", m.d_ff},
                {"seq_len", m.seq_len},       {"vocab_size", m.vocab_size}, {"norm_eps", m.norm_eps},
                {"rope_theta", m.rope_theta}, {"tie_embeddings", m.tie_embeddings},
                {"dropout", m.dropout},       {"init_std", m.init_std},
                {"attention", attentionKindName(m.attention)}, {"attention_block", m.attention_block},
                {"kernels", kernelKindName(m.kernels)}};
  if (project.model_hf_config) model["hf_config"] = *project.model_hf_config;
  if (project.model_hf_pretrained) model["hf_pretrained"] = *project.model_hf_pretrained;
  const DataConfig& d = project.data;
  const DevicesConfig& dev = project.devices;
  const OptimizerConfig& o = project.optimizer;
  const TrainConfig& t = project.train;
  return {
      {"name", project.name},
      {"model", model},
      {"data",
       {{"corpus", d.corpus}, {"tokenizer", d.tokenizer}, {"global_batch_size", d.global_batch_size},
        {"eval_fraction", d.eval_fraction}}},
      {"devices",
       {{"kind", dev.kind}, {"count", dev.count}, {"memory_gb", dev.memory_gb}, {"per_node", dev.per_node}, {"name", dev.name}}},
      {"parallel", planToJson(project.plan)},
      {"precision", precisionName(project.precision)},
      {"optimizer",
       {{"name", o.name}, {"lr", o.lr}, {"weight_decay", o.weight_decay}, {"beta1", o.beta1}, {"beta2", o.beta2},
        {"eps", o.eps}, {"grad_clip", o.grad_clip}, {"warmup_steps", o.warmup_steps}, {"min_lr_ratio", o.min_lr_ratio},
        {"loss_scale", o.loss_scale}, {"loss_scale_window", o.loss_scale_window}}},
      {"train",
       {{"steps", t.steps}, {"seed", t.seed}, {"log_every", t.log_every}, {"eval_every", t.eval_every},
        {"eval_batches", t.eval_batches}, {"micro_batch_size", t.micro_batch_size}, {"out_dir", t.out_dir},
        {"measure_memory", t.measure_memory}, {"checkpoint_every", t.checkpoint_every},
        {"checkpoint_keep", t.checkpoint_keep}, {"checkpoint_final", t.checkpoint_final},
        {"checkpoint_async", t.checkpoint_async}, {"export_hf", t.export_hf}, {"recompute", t.recompute}, {"trace", t.trace},
        {"profile", t.profile}}},
      {"serve",
       {{"max_batch", project.serve.max_batch}, {"max_queue", project.serve.max_queue},
        {"block_tokens", project.serve.block_tokens}, {"kv_blocks", project.serve.kv_blocks},
        {"prefill_chunk", project.serve.prefill_chunk}, {"max_tokens", project.serve.max_tokens},
        {"kv_window", project.serve.kv_window}, {"sink_tokens", project.serve.sink_tokens}}},
  };
}

json readProjectJson(const std::string& path) { return readStrictJsonFile(path); }

Project loadProject(const std::string& path) { return loadProject(path, {}); }

Project loadProject(const std::string& path, const std::vector<std::string>& overrides) {
  json document = readProjectJson(path);
  for (const std::string& assignment : overrides) applyOverride(document, assignment);
  const std::string base_dir = fs::absolute(fs::path(path)).parent_path().string();
  return projectFromJson(document, base_dir);
}

void applyOverride(json& document, const std::string& assignment) {
  const std::size_t equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw std::invalid_argument("--set " + assignment + ": expected key=value (for example train.steps=20)");
  }
  const std::vector<std::string> segments = splitDottedPath(assignment.substr(0, equals), assignment);
  const std::string text = assignment.substr(equals + 1);
  // JSON when it parses (numbers, booleans, arrays), otherwise the text itself as a string.
  const std::string key = assignment.substr(0, equals);
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    // "1e999" is a number out of range, not a string: name the key rather than report a type.
    try {
      value = parseStrictJson(text, key);
    } catch (const std::invalid_argument& error) {
      const std::string reason = error.what();
      if (reason.find("out of range") != std::string::npos) throw std::invalid_argument(key + ": number out of range (it must fit a 64-bit floating-point value)");
      value = text;
    }
  }

  if (!document.is_object()) throw std::invalid_argument("--set " + assignment + ": the project is not a JSON object");
  json* node = &document;
  std::string walked;
  for (std::size_t i = 0; i + 1 < segments.size(); ++i) {
    walked = joinJsonPath(walked, segments[i]);
    json& child = (*node)[segments[i]];
    if (child.is_null()) child = json::object();
    if (!child.is_object()) {
      throw std::invalid_argument("--set " + assignment + ": " + walked + " is " + describeJsonValue(child) +
                                  ", not an object");
    }
    node = &child;
  }
  (*node)[segments.back()] = std::move(value);
}

}  // namespace behemoth
