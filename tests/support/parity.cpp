#include "tests/support/parity.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/metrics/event_sink.h"
#include "backend/train/trainer.h"
#include "parallel/world.h"
#include "tests/support/multiprocess.h"

namespace behemoth {

Project tinyProject(Arch arch) {
  Project project;
  project.name = "parity";
  project.model.arch = arch;
  project.model.n_layer = 2;
  project.model.n_head = 4;
  project.model.d_model = 32;
  project.model.seq_len = 16;
  project.model.vocab_size = 256;
  if (arch == Arch::llama) {
    project.model.n_kv_head = 2;
    project.model.tie_embeddings = false;
  }
  project.data.global_batch_size = 8;
  project.optimizer.lr = 3e-3;
  project.optimizer.warmup_steps = 2;
  // AdamW divides by sqrt(v) + eps: an element whose gradient is within a few eps of zero (its
  // contributions cancel) turns reduction-order rounding of 1e-10 into an update difference of
  // lr * 1e-2, enough for one element to move a whole tensor's norm-wise error past 1e-5 (GPT's
  // MLP projection under tp did on some batches). With eps 1e-6 such an element's update is linear
  // in its gradient, so rounding stays rounding; every parity test passes at 2e-6 with it (tp 2/4).
  project.optimizer.eps = 1e-6;
  // ATen's operators: the layouts' parity and the planner's exact activation bytes were worked out
  // on them (tests/backend/block_activation_support.h lists what ATen's norms keep beyond the
  // planner). The fused kernels (the engine's default) have their own parity tests against them
  // in every layout (tests/backend/parity_fused_kernels_test.cpp).
  project.model.kernels = KernelKind::aten;
  project.train.steps = 4;
  project.train.log_every = 1;
  project.train.seed = 1234;
  return project;
}

ParityRun trainOnRanks(Project project, int nproc, const TrainerOptions& options) {
  project.plan.dp = -1;
  validateForWorld(project, nproc);
  const bool shared_out_dir = options.write_checkpoints || options.resume_from.has_value();
  const RankRun run = runOnRanks(nproc, [&project, &options, shared_out_dir](const WorldInfo& info) {
    Project local = project;
    if (!shared_out_dir) local.train.out_dir = rankResultPath(info, "out");
    ProcessWorld world(info, local.plan);
    Trainer trainer(local, world, options);
    std::vector<nlohmann::json> events;
    CallbackSink capture([&events](const nlohmann::json& event) {
      if (event.value("event", "") == "step") events.push_back(event);
    });
    const TrainOutcome outcome = trainer.run(info.rank == 0 ? &capture : nullptr);
    saveRankDoubles(info, "parameter_bytes", {static_cast<double>(trainer.localParameterBytes())});
    // A collective under tensor parallelism: every rank gathers, rank 0 keeps the result.
    const auto full = trainer.fullParameters();
    if (info.rank != 0) return;
    saveRankDoubles(info, "losses", outcome.losses);
    saveRankText(info, "events", nlohmann::json(events).dump());
    std::string names;
    for (const auto& [name, tensor] : full) {
      saveRankTensor(info, "param." + name, tensor);
      names += name + "\n";
    }
    saveRankText(info, "names", names);
  });
  ParityRun result;
  if (!expectAllRanksOk(run)) return result;
  result.losses = run.loadDoubles(0, "losses");
  for (int rank = 0; rank < nproc; ++rank) {
    result.parameter_bytes.push_back(static_cast<std::int64_t>(run.loadDoubles(rank, "parameter_bytes").at(0)));
  }
  for (const auto& event : nlohmann::json::parse(run.loadText(0, "events"))) {
    result.step_events.push_back(event);
    // An overflowing fp16 step's norm is infinite, which JSON carries as null.
    const nlohmann::json& norm = event.at("grad_norm");
    result.grad_norms.push_back(norm.is_number() ? norm.get<double>() : std::numeric_limits<double>::quiet_NaN());
  }
  std::istringstream names(run.loadText(0, "names"));
  for (std::string name; std::getline(names, name);) {
    result.parameters.emplace_back(name, run.loadTensor(0, "param." + name));
  }
  return result;
}

namespace {

// GPT's key bias adds q.b_k to every score of a query, which softmax ignores: its gradient is zero
// in exact arithmetic, so in fp32 it is pure rounding noise, and AdamW (which divides by the
// gradient's own magnitude) turns that noise into lr-sized steps that differ with the reduction
// order. Those elements carry no information and cannot change the loss; parity compares the rest.
at::Tensor withoutGradientFreeElements(const std::string& name, const at::Tensor& tensor) {
  const std::string suffix = "attn.qkv.bias";
  if (name.size() < suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return tensor;
  }
  const std::int64_t width = tensor.size(0) / 3;
  return at::cat({tensor.narrow(0, 0, width), tensor.narrow(0, 2 * width, width)});
}

}  // namespace

void expectSameTraining(const ParityRun& reference, const ParityRun& candidate, double rel) {
  ASSERT_FALSE(reference.losses.empty()) << "the reference run produced no losses";
  ASSERT_EQ(reference.losses.size(), candidate.losses.size());
  for (std::size_t step = 0; step < reference.losses.size(); ++step) {
    const double a = reference.losses[step];
    const double b = candidate.losses[step];
    EXPECT_LE(std::abs(a - b), rel * std::abs(a)) << "loss of step " << step << ": " << a << " vs " << b;
  }
  ASSERT_EQ(reference.parameters.size(), candidate.parameters.size());
  for (std::size_t k = 0; k < reference.parameters.size(); ++k) {
    const auto& name = reference.parameters[k].first;
    ASSERT_EQ(name, candidate.parameters[k].first);
    ASSERT_EQ(reference.parameters[k].second.sizes(), candidate.parameters[k].second.sizes()) << name;
    const at::Tensor a = withoutGradientFreeElements(name, reference.parameters[k].second);
    const at::Tensor b = withoutGradientFreeElements(name, candidate.parameters[k].second);
    // Norm-wise relative error ||a - b|| / ||a||. AdamW divides each update by the root of its
    // squared-gradient average, so an element whose gradient is near zero (cancelling
    // contributions) turns reduction-order rounding into an update-sized difference; the
    // norm-wise measure bounds the error of the tensor as a whole, as fp32 parity means.
    const double scale = a.to(at::kDouble).norm().item<double>();
    const double diff = (a.to(at::kDouble) - b.to(at::kDouble)).norm().item<double>();
    EXPECT_LE(diff, rel * scale) << "parameter " << name << ": ||diff|| " << diff << " vs ||value|| " << scale;
  }
}

void expectSameGradNorms(const ParityRun& reference, const ParityRun& candidate, double rel) {
  // Every step must be logged, or this would compare a sample (or nothing).
  ASSERT_EQ(reference.grad_norms.size(), reference.losses.size()) << "the reference did not log every step";
  ASSERT_FALSE(reference.grad_norms.empty()) << "the reference run logged no steps";
  ASSERT_EQ(candidate.grad_norms.size(), reference.grad_norms.size());
  for (std::size_t step = 0; step < reference.grad_norms.size(); ++step) {
    const double a = reference.grad_norms[step];
    const double b = candidate.grad_norms[step];
    EXPECT_GT(a, 0.0) << "step " << step;
    EXPECT_LE(std::abs(a - b), rel * std::abs(a)) << "grad_norm of step " << step << ": " << a << " vs " << b;
  }
}

void expectEveryStepClippedAlike(const ParityRun& reference, const ParityRun& candidate, double clip, std::size_t steps,
                                 double rel) {
  ASSERT_EQ(candidate.step_events.size(), steps);
  ASSERT_EQ(reference.step_events.size(), steps);
  for (std::size_t step = 0; step < steps; ++step) {
    const double norm = candidate.step_events[step].at("grad_norm").get<double>();
    EXPECT_GT(norm, clip) << "step " << step << " did not clip";
    const double reference_norm = reference.step_events[step].at("grad_norm").get<double>();
    EXPECT_NEAR(norm, reference_norm, rel * reference_norm) << "step " << step;
  }
}

}  // namespace behemoth
