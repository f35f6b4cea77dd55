// Learning rate at a step: linear warmup, then cosine decay to lr * min_lr_ratio at the last step.
#pragma once

namespace behemoth {

struct OptimizerConfig;

double learningRateAt(const OptimizerConfig& optimizer, int step, int total_steps);

}  // namespace behemoth
