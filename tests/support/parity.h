// Parity: train a project on N real ranks and compare with single-process training. Every strategy
// gets its parity test in a few lines:
//
//   Project project = tinyProject(Arch::gpt);
//   const ParityRun reference = trainOnRanks(project, 1);
//   project.plan.dp = 2;
//   expectSameTraining(reference, trainOnRanks(project, 2), 1e-5);
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "backend/project/project.h"
#include "backend/train/trainer.h"

namespace behemoth {

struct ParityRun {
  std::vector<double> losses;                                 // every step's global-batch loss
  std::vector<double> grad_norms;                             // every logged step's global gradient norm
  std::vector<std::pair<std::string, at::Tensor>> parameters; // final full parameters (fp32), by name
  std::vector<nlohmann::json> step_events;                    // rank 0's step events (log_every applies)
  std::vector<std::int64_t> parameter_bytes;                  // working-parameter bytes each rank held
};

// A small project that trains in a second: `arch` sizes, builtin corpus, fp32, 4 steps, logs every
// step, model.kernels aten.
Project tinyProject(Arch arch);

// Trains `project` on `nproc` forked ranks (plan resolved for nproc, validated as `behemoth run`
// would) and returns what rank 0 saw. Fails the current test (and returns empty) if a rank fails.
// With options.write_checkpoints or options.resume_from the ranks share project.train.out_dir
// (checkpoints need one folder); otherwise each rank gets a private one.
ParityRun trainOnRanks(Project project, int nproc, const TrainerOptions& options = {});

// Per-step losses within relative tolerance `rel` (|a-b| <= rel |a|) and final parameters within
// `rel` norm-wise per tensor (||a-b|| <= rel ||a||), leaving out the few elements whose gradient is
// zero in exact arithmetic (see parity.cpp). Adds gtest failures naming the step or parameter.
void expectSameTraining(const ParityRun& reference, const ParityRun& candidate, double rel);

// Every step's global gradient norm (before clipping, from the step events: tinyProject logs every
// step) within relative `rel`. The norm is taken over the reduced gradients, so a shard counted
// twice or not at all, or a gradient reduced with the wrong scale, shows here even when clipping
// or AdamW's normalisation would hide it from the losses and weights.
void expectSameGradNorms(const ParityRun& reference, const ParityRun& candidate, double rel);

// The parity tests that clip on purpose: every one of `steps` logged steps of the candidate has a
// global norm above `clip` (so clipping was active) and equal to the reference's within `rel`.
void expectEveryStepClippedAlike(const ParityRun& reference, const ParityRun& candidate, double clip, std::size_t steps,
                                 double rel);

}  // namespace behemoth
