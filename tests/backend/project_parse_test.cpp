// Parsing and strict validation of project files: defaults, arch-dependent defaults, and error
// messages that name the JSON path of the field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "backend/project/project.h"
#include "tests/backend/project_test_support.h"

namespace behemoth {
namespace {

using nlohmann::json;
using testing::invalidArgumentMessage;
using testing::minimalProject;
using testing::ScratchDir;

TEST(ProjectParse, OmittedSectionsTakeTheStructDefaults) {
  const Project project = projectFromJson(minimalProject());
  const Project defaults;
  EXPECT_EQ(project.name, "untitled");
  EXPECT_EQ(project.model.n_layer, 2);
  EXPECT_EQ(project.model.vocab_size, 256);
  EXPECT_TRUE(project.model.tie_embeddings);
  EXPECT_EQ(project.data.corpus, "builtin");
  EXPECT_EQ(project.data.global_batch_size, defaults.data.global_batch_size);
  EXPECT_EQ(project.plan.dp, -1);
  EXPECT_EQ(project.precision, Precision::fp32);
  EXPECT_DOUBLE_EQ(project.optimizer.lr, defaults.optimizer.lr);
  EXPECT_EQ(project.train.steps, defaults.train.steps);
  EXPECT_FALSE(project.model_hf_config.has_value());
}

TEST(ProjectParse, ArchChangesTheTieEmbeddingsDefault) {
  json document = minimalProject();
  document["model"]["arch"] = "llama";
  EXPECT_FALSE(projectFromJson(document).model.tie_embeddings);
  document["model"]["tie_embeddings"] = true;
  EXPECT_TRUE(projectFromJson(document).model.tie_embeddings);
  document["model"]["arch"] = "gpt";
  document["model"]["tie_embeddings"] = false;
  EXPECT_FALSE(projectFromJson(document).model.tie_embeddings);
}

TEST(ProjectParse, ReadsEverySection) {
  const json document = json::parse(R"({
    "name": "tiny-gpt",
    "model": {"arch": "llama", "n_layer": 3, "n_head": 4, "n_kv_head": 2, "d_model": 64, "d_ff": 160,
              "seq_len": 32, "vocab_size": 300, "norm_eps": 1e-6, "rope_theta": 5000, "dropout": 0.1, "init_std": 0.01},
    "data": {"corpus": "builtin", "global_batch_size": 12, "eval_fraction": 0.1},
    "devices": {"kind": "cuda", "count": 64, "memory_gb": 80, "per_node": 8, "name": "H100"},
    "parallel": {"dp": 2, "pp": 1, "tp": 1, "sp": 1, "ep": 1, "zero": 2, "bucket_mb": 5.5, "overlap": false,
                 "offload_optimizer": true, "order": ["tp", "dp"]},
    "precision": "bf16",
    "optimizer": {"name": "adamw", "lr": 0.003, "weight_decay": 0.0, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6,
                  "grad_clip": 0, "warmup_steps": 20, "min_lr_ratio": 0.5,
                  "loss_scale": 1024, "loss_scale_window": 200},
    "train": {"steps": 300, "seed": 18446744073709551615, "log_every": 5, "eval_every": 50, "eval_batches": 2,
              "micro_batch_size": 3, "out_dir": "runs/x", "measure_memory": true}
  })");
  const Project p = projectFromJson(document);
  EXPECT_EQ(p.name, "tiny-gpt");
  EXPECT_EQ(p.model.arch, Arch::llama);
  EXPECT_EQ(p.model.n_kv_head, 2);
  EXPECT_EQ(p.model.d_ff, 160);
  EXPECT_DOUBLE_EQ(p.model.rope_theta, 5000.0);
  EXPECT_DOUBLE_EQ(p.model.dropout, 0.1);
  EXPECT_EQ(p.data.global_batch_size, 12);
  EXPECT_EQ(p.devices.kind, "cuda");
  EXPECT_EQ(p.devices.per_node, 8);
  EXPECT_EQ(p.devices.name, "H100");
  EXPECT_EQ(p.plan.dp, 2);
  EXPECT_EQ(p.plan.zero, 2);
  EXPECT_DOUBLE_EQ(p.plan.bucket_mb, 5.5);
  EXPECT_FALSE(p.plan.overlap);
  EXPECT_TRUE(p.plan.offload_optimizer);
  EXPECT_DOUBLE_EQ(p.optimizer.loss_scale, 1024.0);
  EXPECT_EQ(p.optimizer.loss_scale_window, 200);
  // Axes left out keep their default relative order (pp, ep, sp) outermost; named ones follow.
  const std::array<Axis, kAxisCount> expected_order = {Axis::pp, Axis::ep, Axis::sp, Axis::tp, Axis::dp};
  EXPECT_EQ(p.plan.order, expected_order);
  EXPECT_EQ(p.precision, Precision::bf16);
  EXPECT_DOUBLE_EQ(p.optimizer.beta1, 0.8);
  EXPECT_EQ(p.optimizer.warmup_steps, 20);
  EXPECT_EQ(p.train.seed, 18446744073709551615ULL);
  EXPECT_EQ(p.train.micro_batch_size, 3);
  EXPECT_EQ(p.train.out_dir, "runs/x");
  EXPECT_TRUE(p.train.measure_memory);
  EXPECT_FALSE(projectFromJson(minimalProject()).train.measure_memory);
}

TEST(ProjectParse, UnknownKeysAreRejectedWithTheirPath) {
  json document = minimalProject();
  document["parallel"] = {{"tpp", 2}};
  EXPECT_EQ(invalidArgumentMessage([&] { projectFromJson(document); }),
            "parallel.tpp: unknown key (expected one of dp, pp, tp, tp_mode, tp_depth, sp, sp_mode, ep, sequence_parallel, zero, bucket_mb, overlap, offload_optimizer, reduce_dtype, order, pp_schedule, pp_virtual, pp_layers, chunk_mb, device_budget_mb, placement, offload_param_fraction, offload_optim_fraction, disk_optim_fraction, offload_dir, prefetch)");
  document = minimalProject();
  document["trian"] = json::object();
  EXPECT_EQ(invalidArgumentMessage([&] { projectFromJson(document); }).rfind("trian: unknown key (expected one of name, model,", 0), 0u);
}

TEST(ProjectParse, WrongTypesNameFieldAndValue) {
  json document = minimalProject();
  document["model"]["n_layer"] = "2";
  EXPECT_EQ(invalidArgumentMessage([&] { projectFromJson(document); }), "model.n_layer: expected an integer, got string \"2\"");
  document = minimalProject();
  document["model"]["n_layer"] = 2.5;
  EXPECT_EQ(invalidArgumentMessage([&] { projectFromJson(document); }), "model.n_layer: expected an integer, got number 2.5");
  document = minimalProject();
  document["parallel"] = {{"overlap", 1}};
  EXPECT_EQ(invalidArgumentMessage([&] { projectFromJson(document); }), "parallel.overlap: expected true or false, got number 1");
  document = minimalProject();
  document["data"] = "builtin";
  EXPECT_EQ(invalidArgumentMessage([&] { projectFromJson(document); }), "data: expected an object, got string \"builtin\"");
  document = minimalProject();
  document["parallel"] = {{"order", {"dp", "xx"}}};
  EXPECT_EQ(invalidArgumentMessage([&] { projectFromJson(document); }).rfind("parallel.order[1]: unknown parallel axis 'xx'", 0), 0u);
  document["parallel"] = {{"order", {"dp", "dp"}}};
  EXPECT_EQ(invalidArgumentMessage([&] { projectFromJson(document); }), "parallel.order[1]: axis 'dp' is named twice");
}

TEST(ProjectParse, OutOfRangeValuesAreRejected) {
  const auto messageFor = [](const std::string& section, const std::string& key, const json& value) {
    json document = minimalProject();
    document[section][key] = value;
    return invalidArgumentMessage([&] { projectFromJson(document); });
  };
  EXPECT_EQ(messageFor("optimizer", "lr", 0.0), "optimizer.lr: must be > 0, got 0.0");
  EXPECT_EQ(messageFor("optimizer", "beta2", 1.0), "optimizer.beta2: must be in [0.0, 1.0), got 1.0");
  EXPECT_EQ(messageFor("optimizer", "name", "sgd"), "optimizer.name: unknown optimizer 'sgd' (expected adamw)");
  EXPECT_EQ(messageFor("train", "steps", 0), "train.steps: must be >= 1, got 0");
  EXPECT_EQ(messageFor("parallel", "reduce_dtype", "fp8"),
            "parallel.reduce_dtype: unknown dtype 'fp8' (expected auto, fp32, bf16 or fp16)");
  EXPECT_EQ(messageFor("train", "seed", -1), "train.seed: must be >= 0, got -1");
  EXPECT_EQ(messageFor("data", "global_batch_size", 0), "data.global_batch_size: must be >= 1, got 0");
  EXPECT_EQ(messageFor("parallel", "dp", 0), "parallel.dp: must be >= 1 or -1 (whatever the other axes leave), got 0");
  EXPECT_EQ(messageFor("parallel", "zero", 4), "parallel.zero: must be 0, 1, 2 or 3, got 4");
  EXPECT_EQ(messageFor("devices", "kind", "tpu"), "devices.kind: unknown device kind 'tpu' (expected cpu or cuda)");
  EXPECT_EQ(messageFor("model", "arch", "bert"), "model.arch: unknown architecture 'bert' (expected gpt or llama)");
  EXPECT_EQ(messageFor("model", "d_model", 0), "model.d_model: must be positive, got 0");
  json document = minimalProject();
  document["precision"] = "fp8";
  EXPECT_EQ(invalidArgumentMessage([&] { projectFromJson(document); }),
            "precision: unknown precision 'fp8' (expected fp32, bf16 or fp16)");
}

TEST(ProjectParse, ModelSectionIsRequired) {
  EXPECT_EQ(invalidArgumentMessage([] { projectFromJson(json::parse(R"({"name": "x"})")); }),
            "model: required section is missing");
  EXPECT_EQ(invalidArgumentMessage([] { projectFromJson(json::array()); }), "project: expected an object, got array []");
}

TEST(ProjectParse, RelativeCorpusResolvesAgainstTheProjectFolder) {
  ScratchDir dir;
  json document = minimalProject();
  document["data"] = {{"corpus", "texts/corpus.txt"}};
  const std::string project_path = dir.write("project.json", document.dump());
  const Project project = loadProject(project_path);
  EXPECT_EQ(project.data.corpus, (dir.path() / "texts" / "corpus.txt").string());
}

TEST(ProjectParse, HfConfigSuppliesSizesAndProjectKeysOverrideThem) {
  ScratchDir dir;
  dir.write("hf/config.json", R"({"model_type": "llama", "num_hidden_layers": 4, "num_attention_heads": 8,
    "num_key_value_heads": 2, "hidden_size": 128, "intermediate_size": 344, "max_position_embeddings": 256,
    "vocab_size": 1000, "rms_norm_eps": 1e-6, "rope_theta": 500000.0, "hidden_act": "silu",
    "tie_word_embeddings": false})");
  json document = json::parse(R"({"model": {"hf_config": "hf/config.json", "n_layer": 2, "seq_len": 64}})");
  const std::string project_path = dir.write("p.json", document.dump());
  const Project project = loadProject(project_path);
  ASSERT_TRUE(project.model_hf_config.has_value());
  EXPECT_EQ(*project.model_hf_config, (dir.path() / "hf" / "config.json").string());
  EXPECT_EQ(project.model.arch, Arch::llama);
  EXPECT_EQ(project.model.n_layer, 2);       // overridden by the project
  EXPECT_EQ(project.model.seq_len, 64);      // overridden by the project
  EXPECT_EQ(project.model.n_head, 8);        // from config.json
  EXPECT_EQ(project.model.n_kv_head, 2);
  EXPECT_EQ(project.model.d_model, 128);
  EXPECT_EQ(project.model.d_ff, 344);
  EXPECT_EQ(project.model.vocab_size, 1000);
  EXPECT_DOUBLE_EQ(project.model.rope_theta, 500000.0);
  EXPECT_FALSE(project.model.tie_embeddings);

  document["model"]["hf_config"] = "missing/config.json";
  const std::string broken = dir.write("broken.json", document.dump());
  EXPECT_EQ(invalidArgumentMessage([&] { loadProject(broken); }),
            "model.hf_config: no such file: " + (dir.path() / "missing" / "config.json").string());
}

TEST(ProjectParse, LoadProjectNamesTheFileOnSyntaxErrors) {
  ScratchDir dir;
  const std::string path = dir.write("bad.json", "{\"model\": ");
  EXPECT_EQ(invalidArgumentMessage([&] { loadProject(path); }).rfind(path + ": invalid JSON: parse error at line 1", 0), 0u);
  EXPECT_EQ(invalidArgumentMessage([&] { loadProject(dir.file("absent.json")); }), dir.file("absent.json") + ": cannot be read");
}

TEST(ProjectParse, AKeyGivenTwiceOrANumberOutOfRangeNamesTheField) {
  ScratchDir dir;
  const std::string twice = dir.write("twice.json", R"({"model": {"n_layer": 2, "n_head": 2, "n_layer": 4}})");
  EXPECT_EQ(invalidArgumentMessage([&] { loadProject(twice); }), "model.n_layer: key given twice in one object (remove one)");
  const std::string huge = dir.write("huge.json", R"({"model": {}, "optimizer": {"lr": 1e999}})");
  EXPECT_EQ(invalidArgumentMessage([&] { loadProject(huge); }),
            "optimizer.lr: number out of range (it must fit a 64-bit floating-point value)");
  const std::string in_array = dir.write("array.json", R"({"model": {}, "parallel": {"order": ["dp", 1e999]}})");
  EXPECT_EQ(invalidArgumentMessage([&] { loadProject(in_array); }).rfind("parallel.order[1]: number out of range", 0), 0u);
  // The same key in two different objects is no repetition.
  const std::string fine = dir.write("fine.json", R"({"model": {"n_layer": 2}, "train": {"steps": 2, "seed": 1}, "name": "n"})");
  EXPECT_NO_THROW(loadProject(fine));
}

}  // namespace
}  // namespace behemoth
