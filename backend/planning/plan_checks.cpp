#include "backend/planning/plan_checks.h"

#include <stdexcept>
#include <string>

namespace behemoth {

void checkPlanShapes(const Project& project) {
  const auto str = [](int value) { return std::to_string(value); };
  const int dp = project.plan.dp;
  const int global = project.data.global_batch_size;
  if (global % dp != 0) {
    throw std::invalid_argument("data.global_batch_size: " + str(global) + " is not divisible by dp (" + str(dp) + ")");
  }
  const int micro = project.train.micro_batch_size;
  if (micro > 0 && (global / dp) % micro != 0) {
    throw std::invalid_argument("train.micro_batch_size: " + str(micro) + " does not divide the local batch " + str(global / dp));
  }
  const ModelConfig& model = project.model;
  const int tp = project.plan.tp;
  if (model.n_head % tp != 0) throw std::invalid_argument("model.n_head: " + str(model.n_head) + " is not divisible by parallel.tp (" + str(tp) + ")");
  if (model.ffnHidden() % tp != 0) {
    throw std::invalid_argument("model.d_ff: " + str(model.ffnHidden()) + " is not divisible by parallel.tp (" + str(tp) + ")");
  }
  if (model.vocab_size % tp != 0) {
    throw std::invalid_argument("model.vocab_size: " + str(model.vocab_size) + " is not divisible by parallel.tp (" + str(tp) + ")");
  }
  if (model.seq_len % project.plan.sp != 0) {
    throw std::invalid_argument("model.seq_len: " + str(model.seq_len) + " is not divisible by parallel.sp (" + str(project.plan.sp) + ")");
  }
  if (model.n_layer < project.plan.pp) {
    throw std::invalid_argument("model.n_layer: " + str(model.n_layer) + " layers cannot fill parallel.pp (" +
                                str(project.plan.pp) + ") pipeline stages");
  }
  checkProjectScale(project);
}

}  // namespace behemoth
