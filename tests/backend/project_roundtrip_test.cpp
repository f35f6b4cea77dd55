// projectToJson/projectFromJson round trip, and `--set` overrides.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "backend/project/project.h"
#include "tests/backend/project_test_support.h"

namespace behemoth {
namespace {

using nlohmann::json;
using testing::invalidArgumentMessage;
using testing::minimalProject;

void expectSameProject(const Project& a, const Project& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.model.arch, b.model.arch);
  EXPECT_EQ(a.model.n_layer, b.model.n_layer);
  EXPECT_EQ(a.model.n_head, b.model.n_head);
  EXPECT_EQ(a.model.n_kv_head, b.model.n_kv_head);
  EXPECT_EQ(a.model.d_model, b.model.d_model);
  EXPECT_EQ(a.model.d_ff, b.model.d_ff);
  EXPECT_EQ(a.model.seq_len, b.model.seq_len);
  EXPECT_EQ(a.model.vocab_size, b.model.vocab_size);
  EXPECT_EQ(a.model.norm_eps, b.model.norm_eps);
  EXPECT_EQ(a.model.rope_theta, b.model.rope_theta);
  EXPECT_EQ(a.model.tie_embeddings, b.model.tie_embeddings);
  EXPECT_EQ(a.model.dropout, b.model.dropout);
  EXPECT_EQ(a.model.init_std, b.model.init_std);
  EXPECT_EQ(a.model_hf_config, b.model_hf_config);
  EXPECT_EQ(a.data.corpus, b.data.corpus);
  EXPECT_EQ(a.data.global_batch_size, b.data.global_batch_size);
  EXPECT_EQ(a.data.eval_fraction, b.data.eval_fraction);
  EXPECT_EQ(a.devices.kind, b.devices.kind);
  EXPECT_EQ(a.devices.count, b.devices.count);
  EXPECT_EQ(a.devices.memory_gb, b.devices.memory_gb);
  EXPECT_EQ(a.devices.per_node, b.devices.per_node);
  EXPECT_EQ(a.devices.name, b.devices.name);
  for (Axis axis : kAllAxes) EXPECT_EQ(a.plan.size(axis), b.plan.size(axis)) << axisName(axis);
  EXPECT_EQ(a.plan.order, b.plan.order);
  EXPECT_EQ(a.plan.zero, b.plan.zero);
  EXPECT_EQ(a.plan.offload_optimizer, b.plan.offload_optimizer);
  EXPECT_EQ(a.plan.reduce_dtype, b.plan.reduce_dtype);
  EXPECT_EQ(a.optimizer.loss_scale, b.optimizer.loss_scale);
  EXPECT_EQ(a.optimizer.loss_scale_window, b.optimizer.loss_scale_window);
  EXPECT_EQ(a.plan.bucket_mb, b.plan.bucket_mb);
  EXPECT_EQ(a.plan.overlap, b.plan.overlap);
  EXPECT_EQ(a.precision, b.precision);
  EXPECT_EQ(a.optimizer.name, b.optimizer.name);
  EXPECT_EQ(a.optimizer.lr, b.optimizer.lr);
  EXPECT_EQ(a.optimizer.weight_decay, b.optimizer.weight_decay);
  EXPECT_EQ(a.optimizer.beta1, b.optimizer.beta1);
  EXPECT_EQ(a.optimizer.beta2, b.optimizer.beta2);
  EXPECT_EQ(a.optimizer.eps, b.optimizer.eps);
  EXPECT_EQ(a.optimizer.grad_clip, b.optimizer.grad_clip);
  EXPECT_EQ(a.optimizer.warmup_steps, b.optimizer.warmup_steps);
  EXPECT_EQ(a.optimizer.min_lr_ratio, b.optimizer.min_lr_ratio);
  EXPECT_EQ(a.train.steps, b.train.steps);
  EXPECT_EQ(a.train.seed, b.train.seed);
  EXPECT_EQ(a.train.log_every, b.train.log_every);
  EXPECT_EQ(a.train.eval_every, b.train.eval_every);
  EXPECT_EQ(a.train.eval_batches, b.train.eval_batches);
  EXPECT_EQ(a.train.micro_batch_size, b.train.micro_batch_size);
  EXPECT_EQ(a.train.out_dir, b.train.out_dir);
}

TEST(ProjectRoundTrip, EveryFieldSurvivesToJsonAndBack) {
  Project project;
  project.name = "round-trip";
  project.model.arch = Arch::llama;
  project.model.n_layer = 3;
  project.model.n_head = 6;
  project.model.n_kv_head = 2;
  project.model.d_model = 96;
  project.model.d_ff = 250;
  project.model.seq_len = 48;
  project.model.vocab_size = 321;
  project.model.norm_eps = 1.0 / 3.0 * 1e-5;  // not exactly representable in short decimal
  project.model.rope_theta = 123456.5;
  project.model.tie_embeddings = true;
  project.model.dropout = 0.125;
  project.model.init_std = 0.017;
  project.data.corpus = "/data/corpus.txt";
  project.data.global_batch_size = 24;
  project.data.eval_fraction = 0.2;
  project.devices = {"cuda", 16, 79.5, 8, "H100"};
  project.plan.dp = 4;
  project.plan.tp = 2;
  project.plan.pp = 2;
  project.plan.order = {Axis::dp, Axis::pp, Axis::sp, Axis::ep, Axis::tp};
  project.plan.zero = 3;
  project.plan.bucket_mb = 12.75;
  project.plan.overlap = false;
  project.plan.offload_optimizer = true;
  project.plan.reduce_dtype = "fp32";
  project.precision = Precision::bf16;
  project.optimizer = {"adamw", 0.0007, 0.05, 0.85, 0.97, 1e-7, 0.5, 11, 0.25, 512.0, 77};
  project.train.steps = 777;
  project.train.seed = 12345678901234567ULL;
  project.train.log_every = 7;
  project.train.eval_every = 70;
  project.train.eval_batches = 3;
  project.train.micro_batch_size = 2;
  project.train.out_dir = "runs/rt";

  const json written = projectToJson(project);
  const Project read = projectFromJson(written);
  expectSameProject(project, read);
  EXPECT_EQ(projectToJson(read), written);
  // Through text too: what a saved file holds.
  expectSameProject(project, projectFromJson(json::parse(written.dump(2))));
}

TEST(ProjectRoundTrip, DefaultsRoundTrip) {
  const Project project = projectFromJson(minimalProject());
  expectSameProject(project, projectFromJson(projectToJson(project)));
}

TEST(ProjectOverride, ValuesParseAsJsonWhenTheyCan) {
  json document = minimalProject();
  applyOverride(document, "train.steps=20");
  applyOverride(document, "name=hello world");
  applyOverride(document, "optimizer.lr=3e-3");
  applyOverride(document, "parallel.overlap=false");
  applyOverride(document, "parallel.order=[\"dp\",\"tp\"]");
  applyOverride(document, "train.out_dir=runs/a=b");  // only the first '=' separates
  EXPECT_EQ(document["train"]["steps"], json(20));
  EXPECT_EQ(document["name"], json("hello world"));
  EXPECT_EQ(document["optimizer"]["lr"], json(3e-3));
  EXPECT_EQ(document["parallel"]["overlap"], json(false));
  EXPECT_EQ(document["parallel"]["order"], json::parse(R"(["dp","tp"])"));
  EXPECT_EQ(document["train"]["out_dir"], json("runs/a=b"));
  const Project project = projectFromJson(document);
  EXPECT_EQ(project.train.steps, 20);
  EXPECT_EQ(project.name, "hello world");
  EXPECT_DOUBLE_EQ(project.optimizer.lr, 3e-3);
  const std::array<Axis, kAxisCount> order = {Axis::pp, Axis::ep, Axis::sp, Axis::dp, Axis::tp};
  EXPECT_EQ(project.plan.order, order);
}

TEST(ProjectOverride, CreatesIntermediateObjectsAndReportsBadPaths) {
  json document = minimalProject();
  applyOverride(document, "devices.memory_gb=80");
  EXPECT_EQ(document["devices"]["memory_gb"], json(80));
  EXPECT_EQ(invalidArgumentMessage([&] { applyOverride(document, "train.steps"); }),
            "--set train.steps: expected key=value (for example train.steps=20)");
  EXPECT_EQ(invalidArgumentMessage([&] { applyOverride(document, "model..n_layer=2"); }),
            "--set model..n_layer=2: empty segment in the key path");
  document["precision"] = "fp32";
  EXPECT_EQ(invalidArgumentMessage([&] { applyOverride(document, "precision.kind=x"); }),
            "--set precision.kind=x: precision is string \"fp32\", not an object");
  // Typos still surface, from the parser, with the path.
  applyOverride(document, "train.stepz=5");
  EXPECT_EQ(invalidArgumentMessage([&] { projectFromJson(document); }).rfind("train.stepz: unknown key", 0), 0u);
}

}  // namespace
}  // namespace behemoth
