#include "backend/train/reduce_dtype.h"

#include <stdexcept>

#include "backend/project/project.h"

namespace behemoth {

c10::ScalarType gradientReduceDtype(const Project& project) {
  const std::string& name = project.plan.reduce_dtype;
  if (name == "fp32") return c10::kFloat;
  if (name == "bf16") return c10::kBFloat16;
  if (name == "fp16") return c10::kHalf;
  if (name != "auto") throw std::invalid_argument("parallel.reduce_dtype: unknown dtype '" + name + "'");
  switch (project.precision) {
    case Precision::fp32: return c10::kFloat;
    case Precision::bf16: return c10::kBFloat16;
    case Precision::fp16: return c10::kHalf;
  }
  return c10::kFloat;
}

}  // namespace behemoth
