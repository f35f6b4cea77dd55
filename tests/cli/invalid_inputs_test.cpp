// The invalid-input corpus: every way a project file or a command line can be wrong that we know
// of, each refused before launch. Each case asserts what a user must see: exit status 1, exactly
// one line on stderr naming the field (or the file, or the option), no worker started, no history
// row, nothing written to out_dir.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>

#include "tests/cli/cli_test_support.h"

namespace behemoth {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct InvalidCase {
  std::string name;
  // Edits the valid base project; may write files into the folder (corpora, configs).
  std::function<void(json& project, const std::string& folder)> edit;
  std::string field;                    // the one stderr line must contain it
  std::vector<std::string> extra_args;  // after `run p.json --nproc 2 --history H`
  std::optional<std::string> raw_text;  // when set, the project file's text instead of the JSON
};

// gtest prints a parameter in failure messages: the case's name, not its bytes.
void PrintTo(const InvalidCase& c, std::ostream* out) { *out << c.name; }

// "model.n_layer" -> the JSON value at that dotted path (created as needed).
json& at(json& project, const std::string& dotted) {
  json* node = &project;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = dotted.find('.', start);
    json& child = (*node)[dotted.substr(start, dot - start)];
    if (dot == std::string::npos) return child;
    node = &child;
    start = dot + 1;
  }
}

void erase(json& project, const std::string& dotted) {
  const std::size_t dot = dotted.rfind('.');
  if (dot == std::string::npos) {
    project.erase(dotted);
  } else {
    at(project, dotted.substr(0, dot)).erase(dotted.substr(dot + 1));
  }
}

InvalidCase setting(const std::string& name, const std::string& path, json value, const std::string& field = "") {
  return {name, [path, value](json& p, const std::string&) { at(p, path) = value; }, field.empty() ? path : field, {}, {}};
}

InvalidCase settings(const std::string& name, std::vector<std::pair<std::string, json>> values, const std::string& field) {
  return {name,
          [values](json& p, const std::string&) {
            for (const auto& [path, value] : values) at(p, path) = value;
          },
          field, {}, {}};
}

InvalidCase rawText(const std::string& name, const std::string& text, const std::string& field) {
  return {name, nullptr, field, {}, text};
}

InvalidCase withArgs(const std::string& name, std::vector<std::string> args, const std::string& field) {
  return {name, nullptr, field, std::move(args), {}};
}

// A file in the case's folder, and a project edit pointing `path` at it.
InvalidCase withFile(const std::string& name, const std::string& file, const std::string& content,
                     const std::string& path, const std::string& field) {
  return {name,
          [=](json& p, const std::string& folder) {
            writeFile(folder + "/" + file, content);
            at(p, path) = folder + "/" + file;
          },
          field, {}, {}};
}

json gpt2Config() {
  return {{"model_type", "gpt2"}, {"n_layer", 1},  {"n_head", 2},   {"n_embd", 32},
          {"n_positions", 16},    {"vocab_size", 256}, {"activation_function", "gelu_new"}};
}

InvalidCase hfConfig(const std::string& name, const std::function<void(json&)>& change, const std::string& field) {
  return {name,
          [change](json& p, const std::string& folder) {
            json config = gpt2Config();
            change(config);
            writeFile(folder + "/config.json", config.dump());
            p["model"] = {{"hf_config", folder + "/config.json"}};
          },
          field, {}, {}};
}

// One wrong-typed value per key of the project file.
void addWrongTypes(std::vector<InvalidCase>& cases) {
  const std::vector<std::pair<std::string, json>> wrong = {
      {"name", 5},
      {"precision", 32},
      {"model.arch", 5},
      {"model.n_layer", "two"},
      {"model.n_head", 2.5},
      {"model.n_kv_head", "x"},
      {"model.d_model", true},
      {"model.d_ff", json::array({1})},
      {"model.seq_len", json::object()},
      {"model.vocab_size", "256"},
      {"model.norm_eps", "small"},
      {"model.rope_theta", false},
      {"model.tie_embeddings", 1},
      {"model.dropout", "0.1"},
      {"model.init_std", nullptr},
      {"model.hf_config", 5},
      {"data.corpus", 5},
      {"data.tokenizer", 5},
      {"data.global_batch_size", "8"},
      {"data.eval_fraction", "x"},
      {"devices.kind", 1},
      {"devices.count", "2"},
      {"devices.memory_gb", "80"},
      {"devices.per_node", 1.5},
      {"devices.name", 3},
      {"parallel.dp", "auto"},
      {"parallel.pp", 1.5},
      {"parallel.tp", "1"},
      {"parallel.sp", true},
      {"parallel.ep", json::array()},
      {"parallel.sequence_parallel", "yes"},
      {"parallel.zero", "2"},
      {"parallel.bucket_mb", "25"},
      {"parallel.overlap", 1},
      {"parallel.offload_optimizer", "no"},
      {"parallel.reduce_dtype", 16},
      {"parallel.order", "dp"},
      {"optimizer.name", 1},
      {"optimizer.lr", "0.1"},
      {"optimizer.weight_decay", true},
      {"optimizer.beta1", "0.9"},
      {"optimizer.beta2", json::array({0.95})},
      {"optimizer.eps", json::object()},
      {"optimizer.grad_clip", "1"},
      {"optimizer.warmup_steps", 2.5},
      {"optimizer.min_lr_ratio", "0.1"},
      {"optimizer.loss_scale", "big"},
      {"optimizer.loss_scale_window", 1.5},
      {"train.steps", "10"},
      {"train.seed", -1},
      {"train.log_every", 0.5},
      {"train.eval_every", "1"},
      {"train.eval_batches", true},
      {"train.micro_batch_size", "2"},
      {"train.out_dir", 7},
      {"train.measure_memory", "yes"},
  };
  for (const auto& [path, value] : wrong) cases.push_back(setting("type_" + path, path, value));
  for (const std::string section : {"model", "data", "devices", "parallel", "optimizer", "train"}) {
    cases.push_back(setting("type_section_" + section, section, "not an object", section));
  }
}

void addOutOfRange(std::vector<InvalidCase>& cases) {
  const std::vector<std::pair<std::string, json>> bad = {
      {"model.n_layer", 0},          {"model.n_layer", -1},        {"model.n_head", 0},
      {"model.n_head", 3},           {"model.d_model", 0},         {"model.d_model", -32},
      {"model.d_ff", 0},             {"model.seq_len", 0},         {"model.seq_len", 1},
      {"model.vocab_size", 0},       {"model.vocab_size", 1},      {"model.norm_eps", 0},
      {"model.norm_eps", -1},        {"model.dropout", 1.0},       {"model.dropout", -0.1},
      {"model.init_std", 0},         {"model.arch", "bert"},       {"model.n_layer", 100000000},
      {"model.d_model", 1 << 30},    {"model.vocab_size", 1 << 30}, {"model.seq_len", 1 << 30},
      {"data.global_batch_size", 0}, {"data.global_batch_size", -8}, {"data.eval_fraction", 1.0},
      {"data.eval_fraction", -0.1},  {"data.corpus", ""},          {"data.tokenizer", ""},       {"devices.kind", "tpu"},
      {"devices.count", 0},          {"devices.memory_gb", -1},    {"devices.per_node", -1},
      {"devices.kind", "cuda"},      {"parallel.dp", 0},           {"parallel.dp", -2},
      {"parallel.pp", 0},            {"parallel.tp", 0},           {"parallel.sp", 0},
      {"parallel.ep", 0},            {"parallel.zero", 4},         {"parallel.zero", -1},
      {"parallel.bucket_mb", 0},     {"parallel.bucket_mb", -1},   {"parallel.reduce_dtype", "fp8"},
      {"optimizer.name", "sgd"},     {"optimizer.lr", 0},          {"optimizer.lr", -0.1},
      {"optimizer.weight_decay", -0.1}, {"optimizer.beta1", 1.0},  {"optimizer.beta1", -0.1},
      {"optimizer.beta2", 1.0},      {"optimizer.eps", 0},         {"optimizer.grad_clip", -1},
      {"optimizer.warmup_steps", -1}, {"optimizer.min_lr_ratio", 1.5}, {"optimizer.loss_scale", 0},
      {"optimizer.loss_scale_window", 0}, {"train.steps", 0},      {"train.log_every", 0},
      {"train.eval_every", -1},      {"train.eval_batches", 0},    {"train.micro_batch_size", -1},
      {"train.out_dir", ""},         {"name", ""},                 {"precision", "fp64"},
      {"model.n_layer", 3000000000.0},
  };
  int index = 0;
  for (const auto& [path, value] : bad) cases.push_back(setting("range" + std::to_string(index++) + "_" + path, path, value));
  cases.push_back(setting("order_repeated", "parallel.order", json::array({"dp", "dp"}), "parallel.order[1]"));
  cases.push_back(setting("order_unknown_axis", "parallel.order", json::array({"xx"}), "parallel.order[0]"));
  cases.push_back(setting("order_not_strings", "parallel.order", json::array({1}), "parallel.order[0]"));
  cases.push_back(settings("gpt_with_grouped_heads", {{"model.n_kv_head", 1}}, "model.n_kv_head"));
  cases.push_back(settings("llama_kv_heads_not_dividing", {{"model.arch", "llama"}, {"model.n_head", 4}, {"model.n_kv_head", 3}},
                           "model.n_kv_head"));
  cases.push_back(settings("llama_odd_head_dim", {{"model.arch", "llama"}, {"model.n_head", 32}}, "model.d_model"));
  cases.push_back(settings("llama_rope_theta_zero", {{"model.arch", "llama"}, {"model.rope_theta", 0}}, "model.rope_theta"));
}

void addUnknownAndMissing(std::vector<InvalidCase>& cases) {
  for (const std::string key : {"modle", "model.n_layers", "data.corpora", "devices.gpus", "parallel.zero_stage",
                                 "optimizer.learning_rate", "train.epochs"}) {
    cases.push_back(setting("unknown_" + key, key, 1, key + ": unknown key"));
  }
  cases.push_back({"missing_model", [](json& p, const std::string&) { erase(p, "model"); }, "model: required", {}, {}});
  cases.push_back(rawText("empty_file", "", "p.json"));
  cases.push_back(rawText("top_level_array", "[1, 2]", "project"));
  cases.push_back(rawText("top_level_null", "null", "project"));
  cases.push_back(rawText("syntax_unclosed", "{\"name\": ", "p.json"));
  cases.push_back(rawText("syntax_trailing_comma", "{\"name\": \"x\",}", "p.json"));
  cases.push_back(rawText("syntax_bare_word", "{\"name\": tiny}", "p.json"));
}

// Numbers out of range and keys given twice: the JSON library alone would not name the field.
void addJsonTraps(std::vector<InvalidCase>& cases, const json& base) {
  std::string text = base.dump();
  const auto replaced = [&](const std::string& from, const std::string& to) {
    std::string copy = text;
    copy.replace(copy.find(from), from.size(), to);
    return copy;
  };
  cases.push_back(rawText("lr_1e999", replaced("\"lr\":0.003", "\"lr\":1e999"), "optimizer.lr"));
  cases.push_back(rawText("steps_1e400", replaced("\"steps\":6", "\"steps\":1e400"), "train.steps"));
  cases.push_back(rawText("lr_minus_1e999", replaced("\"lr\":0.003", "\"lr\":-1e999"), "optimizer.lr"));
  cases.push_back(rawText("duplicate_top_name", replaced("\"name\":\"cli-tiny\"", "\"name\":\"a\",\"name\":\"b\""), "name"));
  cases.push_back(rawText("duplicate_model_n_layer", replaced("\"n_layer\":1", "\"n_layer\":1,\"n_layer\":2"), "model.n_layer"));
  cases.push_back(rawText("duplicate_optimizer_lr", replaced("\"lr\":0.003", "\"lr\":0.003,\"lr\":0.1"), "optimizer.lr"));
  cases.push_back(rawText("duplicate_section", replaced("\"precision\":\"fp32\"", "\"precision\":\"fp32\",\"precision\":\"bf16\""),
                          "precision"));
  cases.push_back(rawText("duplicate_in_order_object", replaced("\"dp\":-1", "\"dp\":-1,\"dp\":2"), "parallel.dp"));
}

// Combinations that are each valid alone but cannot run together on 2 ranks.
void addConflicts(std::vector<InvalidCase>& cases) {
  cases.push_back(setting("tp_not_dividing_world", "parallel.tp", 3, "parallel"));
  cases.push_back(setting("dp_times_tp_not_world", "parallel.dp", 3, "parallel"));
  cases.push_back(settings("heads_not_split_by_tp", {{"parallel.tp", 2}, {"model.n_head", 1}}, "model.n_head"));
  cases.push_back(settings("ffn_not_split_by_tp", {{"parallel.tp", 2}, {"model.d_ff", 33}}, "model.d_ff"));
  cases.push_back(settings("seq_not_split_by_sp", {{"parallel.tp", 2}, {"parallel.sequence_parallel", true}, {"model.seq_len", 15}},
                           "model.seq_len"));
  cases.push_back(settings("pipeline_not_dividing_world", {{"parallel.pp", 3}, {"model.n_layer", 3}}, "parallel.pp"));
  cases.push_back(settings("pipeline_fewer_micro_batches_than_stages",
                           {{"parallel.pp", 2}, {"model.n_layer", 2}, {"data.global_batch_size", 2}, {"train.micro_batch_size", 2}},
                           "train.micro_batch_size"));
  cases.push_back(settings("pipeline_layers_not_divisible", {{"parallel.pp", 2}, {"model.n_layer", 3}}, "model.n_layer"));
  cases.push_back(settings("pipeline_layers_wrong_sum",
                           {{"parallel.pp", 2}, {"model.n_layer", 2}, {"parallel.pp_layers", json::array({1, 2})}},
                           "parallel.pp_layers"));
  cases.push_back(settings("pipeline_layers_wrong_count",
                           {{"parallel.pp", 2}, {"model.n_layer", 3}, {"parallel.pp_layers", json::array({1, 1, 1})}},
                           "parallel.pp_layers"));
  cases.push_back(settings("pipeline_layers_zero_entry",
                           {{"parallel.pp", 2}, {"model.n_layer", 2}, {"parallel.pp_layers", json::array({0, 2})}},
                           "parallel.pp_layers"));
  cases.push_back(settings("pipeline_virtual_without_interleaved", {{"parallel.pp", 2}, {"model.n_layer", 4}, {"parallel.pp_virtual", 2}},
                           "parallel.pp_virtual"));
  cases.push_back(settings("pipeline_interleaved_without_chunks", {{"parallel.pp", 2}, {"model.n_layer", 4}, {"parallel.pp_schedule", "interleaved"}},
                           "parallel.pp_virtual"));
  cases.push_back(settings("pipeline_interleaved_layers_not_divisible",
                           {{"parallel.pp", 2}, {"model.n_layer", 2}, {"parallel.pp_schedule", "interleaved"}, {"parallel.pp_virtual", 2}},
                           "model.n_layer"));
  cases.push_back(setting("pipeline_unknown_schedule", "parallel.pp_schedule", "zb", "parallel.pp_schedule"));
  cases.push_back(setting("pipeline_layers_not_array", "parallel.pp_layers", 2, "parallel.pp_layers"));
  cases.push_back(setting("recompute_unknown", "train.recompute", "some", "train.recompute"));
  cases.push_back(setting("trace_not_bool", "train.trace", "yes", "train.trace"));
  cases.push_back(setting("sp_mode_unknown", "parallel.sp_mode", "zigzag", "parallel.sp_mode"));
  cases.push_back(settings("sp_ring_chunks_uneven", {{"parallel.sp", 2}, {"parallel.sp_mode", "ring"}, {"model.seq_len", 18}},
                           "model.seq_len: 18 cannot be cut into 4 equal zigzag chunks"));
  cases.push_back(setting("attention_unknown", "model.attention", "flash", "model.attention"));
  cases.push_back(setting("expert_parallel_not_built", "parallel.ep", 2, "parallel.ep"));
  cases.push_back(settings("zero3_with_pipeline",
                           {{"parallel.zero", 3}, {"parallel.pp", 2}, {"model.n_layer", 2}, {"train.micro_batch_size", 1}},
                           "parallel.zero: ZeRO stage 3 with pipeline parallelism"));
  cases.push_back(setting("offload_without_zero", "parallel.offload_optimizer", true, "parallel.offload_optimizer"));
  cases.push_back(setting("fp16_without_zero", "precision", "fp16", "precision"));
  cases.push_back(setting("batch_not_divisible_by_dp", "data.global_batch_size", 7, "data.global_batch_size"));
  cases.push_back(settings("micro_batch_not_dividing", {{"train.micro_batch_size", 3}}, "data.global_batch_size"));
  cases.push_back(settings("layers_fewer_than_stages", {{"parallel.pp", 2}, {"model.n_layer", 1}}, "model.n_layer"));
}

void addCorpusProblems(std::vector<InvalidCase>& cases) {
  cases.push_back(setting("corpus_missing", "data.corpus", "/no/such/corpus", "data.corpus: no such file or folder"));
  cases.push_back(withFile("corpus_empty_file", "empty.txt", "", "data.corpus", "data.corpus"));
  cases.push_back(withFile("corpus_binary_file", "image.bin", std::string("GIF89a\0\0\x01", 9) + std::string(4000, 'x'),
                           "data.corpus", "is binary"));
  cases.push_back({"corpus_empty_folder",
                   [](json& p, const std::string& folder) {
                     fs::create_directories(folder + "/texts");
                     p["data"]["corpus"] = folder + "/texts";
                   },
                   "data.corpus", {}, {}});
  cases.push_back({"corpus_folder_with_binary",
                   [](json& p, const std::string& folder) {
                     fs::create_directories(folder + "/texts");
                     writeFile(folder + "/texts/a.txt", std::string(5000, 'a'));
                     writeFile(folder + "/texts/b.o", std::string("\x7f" "ELF\0\0", 6));
                     p["data"]["corpus"] = folder + "/texts";
                   },
                   "b.o", {}, {}});
  cases.push_back(setting("corpus_special_file", "data.corpus", "/dev/null", "data.corpus"));
  cases.push_back(withFile("jsonl_malformed_line", "docs.jsonl", "{\"text\": \"fine\"}\n{\"text\": \"cut", "data.corpus",
                           "docs.jsonl:2: not valid JSON"));
  cases.push_back(withFile("jsonl_without_text", "docs.jsonl", std::string("{\"body\": \"x\"}\n"), "data.corpus",
                           "docs.jsonl:1: the object has no \"text\" field"));
  cases.push_back(setting("tokenizer_missing", "data.tokenizer", "/no/such/tokenizer", "data.tokenizer: no such file or folder"));
  cases.push_back(withFile("tokenizer_unreadable", "junk.model", "not a tokenizer", "data.tokenizer", "data.tokenizer"));
  cases.push_back(withFile("corpus_shorter_than_window", "short.txt", "0123456789", "data.corpus", "model.seq_len"));
  // The byte tokenizer's alphabet (byte values up to 255 in the builtin text) exceeds the vocabulary.
  cases.push_back(setting("vocab_below_alphabet", "model.vocab_size", 100, "model.vocab_size"));
  cases.push_back(withFile("vocab_below_file_alphabet", "abc.txt", std::string(3000, 'z'), "data.corpus", "model.vocab_size"));
  cases.back().edit = [](json& p, const std::string& folder) {
    writeFile(folder + "/abc.txt", std::string(3000, 'z'));  // 'z' = 122 needs vocab_size >= 123
    p["data"]["corpus"] = folder + "/abc.txt";
    p["model"]["vocab_size"] = 100;
  };
  cases.push_back(setting("seq_len_beyond_corpus", "model.seq_len", 10000000, "model.seq_len"));
  cases.push_back(settings("eval_batches_beyond_held_out", {{"train.eval_every", 2}, {"train.eval_batches", 100000}},
                           "train.eval_batches"));
  cases.push_back(settings("held_out_split_too_small", {{"train.eval_every", 2}, {"data.eval_fraction", 0.000001}},
                           "train.eval_batches"));
}

void addMachineFit(std::vector<InvalidCase>& cases) {
  // GPT-3 175B on this machine's CPUs: refused by the memory model before anything is built.
  cases.push_back(settings("model_beyond_this_machine",
                           {{"model.n_layer", 96}, {"model.n_head", 96}, {"model.d_model", 12288}, {"model.seq_len", 2048},
                            {"model.vocab_size", 50257}},
                           "model: the plan needs an estimated"));
}

void addHfConfigProblems(std::vector<InvalidCase>& cases) {
  cases.push_back(setting("hf_config_missing_file", "model.hf_config", "/no/such/config.json", "model.hf_config"));
  cases.push_back({"hf_config_is_a_folder",
                   [](json& p, const std::string& folder) { p["model"] = {{"hf_config", folder}}; }, "model.hf_config", {}, {}});
  cases.push_back(withFile("hf_config_malformed", "config.json", "{\"model_type\": ", "model.hf_config", "model.hf_config"));
  cases.push_back(hfConfig("hf_unknown_model_type", [](json& c) { c["model_type"] = "bert"; }, "model.hf_config"));
  cases.push_back(hfConfig("hf_missing_n_layer", [](json& c) { c.erase("n_layer"); }, "n_layer"));
  cases.push_back(hfConfig("hf_n_layer_string", [](json& c) { c["n_layer"] = "one"; }, "n_layer"));
  cases.push_back(hfConfig("hf_relu_activation", [](json& c) { c["activation_function"] = "relu"; }, "activation_function"));
  cases.push_back(hfConfig("hf_scale_by_layer_index", [](json& c) { c["scale_attn_by_inverse_layer_idx"] = true; },
                           "scale_attn_by_inverse_layer_idx"));
  cases.push_back(hfConfig("hf_unscaled_attention", [](json& c) { c["scale_attn_weights"] = false; }, "scale_attn_weights"));
  cases.push_back(hfConfig("hf_heads_not_dividing", [](json& c) { c["n_head"] = 3; }, "model.n_head"));
  cases.push_back({"hf_llama_rope_scaling",
                   [](json& p, const std::string& folder) {
                     const json config = {{"model_type", "llama"}, {"num_hidden_layers", 1}, {"num_attention_heads", 2},
                                          {"hidden_size", 32}, {"intermediate_size", 64}, {"max_position_embeddings", 16},
                                          {"vocab_size", 256}, {"hidden_act", "silu"},
                                          {"rope_scaling", {{"type", "linear"}, {"factor", 2.0}}}};
                     writeFile(folder + "/config.json", config.dump());
                     p["model"] = {{"hf_config", folder + "/config.json"}};
                   },
                   "rope_scaling", {}, {}});
}

void addCommandLineProblems(std::vector<InvalidCase>& cases) {
  cases.push_back(withArgs("set_unknown_key", {"--set", "train.epochs=3"}, "train.epochs: unknown key"));
  cases.push_back(withArgs("set_unknown_section", {"--set", "trainer.steps=3"}, "trainer: unknown key"));
  cases.push_back(withArgs("set_without_equals", {"--set", "train.steps"}, "--set train.steps"));
  cases.push_back(withArgs("set_empty_key", {"--set", "=3"}, "--set =3"));
  cases.push_back(withArgs("set_empty_segment", {"--set", "model..n_layer=2"}, "--set model..n_layer=2"));
  cases.push_back(withArgs("set_through_a_value", {"--set", "model.n_layer.depth=2"}, "model.n_layer"));
  cases.push_back(withArgs("set_wrong_type", {"--set", "optimizer.lr=fast"}, "optimizer.lr"));
  cases.push_back(withArgs("set_out_of_range", {"--set", "optimizer.lr=1e999"}, "optimizer.lr"));
  cases.push_back(withArgs("nproc_zero", {"--nproc", "0"}, "--nproc"));
  cases.push_back(withArgs("nproc_not_a_number", {"--nproc", "two"}, "--nproc"));
  cases.push_back(withArgs("unknown_option", {"--nprocs", "2"}, "--nprocs"));
  cases.push_back(withArgs("timeout_not_a_number", {"--timeout", "soon"}, "--timeout"));
  cases.push_back(withArgs("nnodes_without_master", {"--nnodes", "2"}, "--master"));
  cases.push_back(withArgs("node_rank_outside", {"--nnodes", "2", "--node-rank", "2", "--master", "127.0.0.1:1"}, "--node-rank"));
}

// ZeRO-3's chunk and tier keys (backend/project/zero3_checks.cpp). The tiny GPT at dp 2 gathers
// chunks of at least its token embedding (8192 elements, 32 KiB) at once, so a 0.01 MiB budget
// cannot run.
void addZeroThreeProblems(std::vector<InvalidCase>& cases) {
  const auto zero3 = [](std::vector<std::pair<std::string, json>> values) {
    values.insert(values.begin(), {"parallel.zero", 3});
    return values;
  };
  cases.push_back(settings("zero3_budget_below_widest_stage", zero3({{"parallel.device_budget_mb", 0.01}}),
                           "parallel.device_budget_mb: 0.01 MiB is below what stage '"));
  cases.push_back(settings("zero3_budget_negative", zero3({{"parallel.device_budget_mb", -1}}),
                           "parallel.device_budget_mb: must be >= 0"));
  cases.push_back(settings("zero3_param_fraction_above_one", zero3({{"parallel.offload_param_fraction", 1.5}}),
                           "parallel.offload_param_fraction: must be in [0, 1], got 1.5"));
  cases.push_back(settings("zero3_optim_fraction_negative", zero3({{"parallel.offload_optim_fraction", -0.25}}),
                           "parallel.offload_optim_fraction: must be in [0, 1], got -0.25"));
  cases.push_back({"zero3_host_and_disk_fractions_above_one",
                   [](json& p, const std::string& folder) {
                     p["parallel"] = {{"dp", -1}, {"zero", 3}, {"offload_optim_fraction", 0.75},
                                      {"disk_optim_fraction", 0.5}, {"offload_dir", folder}};
                   },
                   "parallel.disk_optim_fraction: 0.5 on disk plus offload_optim_fraction 0.75", {}, {}});
  cases.push_back(settings("zero3_disk_without_offload_dir", zero3({{"parallel.disk_optim_fraction", 0.5}}),
                           "parallel.offload_dir: required when parallel.disk_optim_fraction is 0.5"));
  cases.push_back(settings("zero3_offload_dir_not_writable",
                           zero3({{"parallel.disk_optim_fraction", 1}, {"parallel.offload_dir", "/proc"}}),
                           "parallel.offload_dir: /proc is not writable"));
  cases.push_back({"zero3_offload_dir_is_a_file",
                   [](json& p, const std::string& folder) {
                     writeFile(folder + "/plain.txt", "x");
                     p["parallel"] = {{"dp", -1}, {"zero", 3}, {"disk_optim_fraction", 1}, {"offload_dir", folder + "/plain.txt"}};
                   },
                   "plain.txt is not a directory", {}, {}});
  // 128 blocks of d 16384: about 412e9 parameters, 12 bytes each on disk over 2 ranks (~4.5 TiB).
  cases.push_back({"zero3_offload_dir_too_small",
                   [](json& p, const std::string& folder) {
                     p["model"]["n_layer"] = 128;
                     p["model"]["d_model"] = 16384;
                     p["model"]["n_head"] = 128;
                     p["parallel"] = {{"dp", -1}, {"zero", 3}, {"disk_optim_fraction", 1}, {"offload_dir", folder}};
                   },
                   "free, the disk tier needs", {}, {}});
  cases.push_back(settings("zero3_chunk_below_largest_tensor", zero3({{"parallel.chunk_mb", 0.001}}),
                           "parallel.chunk_mb: a chunk of"));
  cases.push_back(settings("zero3_auto_without_budget", zero3({{"parallel.placement", "auto"}}),
                           "parallel.placement: \"auto\" places chunks under a budget"));
  cases.push_back(settings("zero3_with_offload_optimizer", zero3({{"parallel.offload_optimizer", true}}),
                           "use parallel.offload_optim_fraction"));
  const std::pair<std::string, json> stage_three_keys[] = {{"offload_param_fraction", 0.5},
                                                           {"offload_optim_fraction", 0.5},
                                                           {"disk_optim_fraction", 0.5},
                                                           {"device_budget_mb", 64},
                                                           {"placement", "auto"},
                                                           {"offload_dir", "/tmp"}};
  for (const auto& [key, value] : stage_three_keys) {
    cases.push_back(settings("zero3_key_" + key + "_with_zero2", {{"parallel.zero", 2}, {"parallel." + key, value}},
                             "parallel." + key + ": "));
    cases.back().field += value.is_string() ? "\"" + value.get<std::string>() + "\" needs parallel.zero 3"
                                            : value.dump() + " needs parallel.zero 3";
  }
}

std::vector<InvalidCase> allInvalidCases() {
  std::vector<InvalidCase> cases;
  addWrongTypes(cases);
  addOutOfRange(cases);
  addUnknownAndMissing(cases);
  addJsonTraps(cases, tinyProjectJson("OUT"));
  addConflicts(cases);
  addZeroThreeProblems(cases);
  addCorpusProblems(cases);
  addMachineFit(cases);
  addHfConfigProblems(cases);
  addCommandLineProblems(cases);
  return cases;
}

std::string testName(const std::string& name) {
  std::string out;
  for (const char c : name) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

class InvalidInput : public testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidInput, IsRefusedBeforeLaunchWithOneLineNamingTheField) {
  const InvalidCase& bad = GetParam();
  TempDir dir;
  const std::string out_dir = dir.file("out");
  const std::string history = dir.file("history.sqlite");
  std::string text;
  if (bad.raw_text) {
    // Raw texts were written against the out_dir placeholder.
    text = *bad.raw_text;
    for (std::size_t at = text.find("OUT"); at != std::string::npos; at = text.find("OUT")) text.replace(at, 3, out_dir);
  } else {
    json project = tinyProjectJson(out_dir);
    if (bad.edit) bad.edit(project, dir.path());
    text = project.dump(2);
  }
  writeFile(dir.file("p.json"), text);
  std::vector<std::string> args = {"run", dir.file("p.json"), "--history", history};
  // Two ranks unless the case is about --nproc itself.
  if (std::find(bad.extra_args.begin(), bad.extra_args.end(), "--nproc") == bad.extra_args.end()) {
    args.insert(args.end(), {"--nproc", "2"});
  }
  args.insert(args.end(), bad.extra_args.begin(), bad.extra_args.end());

  const CommandResult result = runBehemoth(args, std::chrono::seconds(120));
  EXPECT_EQ(result.exit_code, 1) << result.stderr_text;
  EXPECT_EQ(std::count(result.stderr_text.begin(), result.stderr_text.end(), '\n'), 1) << result.stderr_text;
  EXPECT_NE(result.stderr_text.find(bad.field), std::string::npos)
      << "expected the message to name '" << bad.field << "', got: " << result.stderr_text;
  EXPECT_EQ(result.stderr_text.find("frame #"), std::string::npos) << "a C++ backtrace reached the user";
  EXPECT_EQ(result.stdout_text.find("[rank"), std::string::npos) << "a worker started: " << result.stdout_text;
  EXPECT_FALSE(fs::exists(out_dir)) << "something was written to out_dir";
  EXPECT_FALSE(fs::exists(history)) << "the history was touched";
}

INSTANTIATE_TEST_SUITE_P(Corpus, InvalidInput, testing::ValuesIn(allInvalidCases()),
                         [](const testing::TestParamInfo<InvalidCase>& info) { return testName(info.param.name); });

TEST(InvalidInputCorpus, HoldsAtLeastOneHundredFiftyCasesWithDistinctNames) {
  const auto cases = allInvalidCases();
  EXPECT_GE(cases.size(), 150u);
  std::set<std::string> names;
  for (const auto& c : cases) EXPECT_TRUE(names.insert(testName(c.name)).second) << "repeated case " << c.name;
}

TEST(InvalidInputCorpus, TheBaseProjectItselfRuns) {
  // The cases are edits of this project: it must be valid, or every case would pass for nothing.
  TempDir dir;
  writeFile(dir.file("p.json"), tinyProjectJson(dir.file("out"), 1).dump());
  const CommandResult result = runBehemoth({"run", dir.file("p.json"), "--nproc", "2", "--history", dir.file("h.sqlite")});
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_TRUE(fs::exists(dir.file("out/metrics.jsonl")));
}

}  // namespace
}  // namespace behemoth
