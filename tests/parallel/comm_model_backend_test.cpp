// The communication model knows what the backend hands the wire: on gloo (CPU devices) a 2-byte
// all-reduce is padded to a multiple of the group (parallel/group.h); NCCL and fp32 are not.
#include <gtest/gtest.h>

#include <cstdint>

#include "memory/model_description.h"
#include "memory/training_layout.h"
#include "parallel/comm_counter.h"
#include "parallel/comm_model.h"
#include "parallel/plan.h"

namespace behemoth {
namespace {

std::int64_t stepBytes(const ModelDescription& model, const TrainingLayout& layout, CollectiveBackend backend) {
  return stepCommBytes(stepCollectives(model, layout, Plan{}.order, 8, backend));
}

TEST(CommModelBackend, CpuDevicesUseGloo) {
  EXPECT_EQ(collectiveBackendFor("cpu"), CollectiveBackend::gloo);
  EXPECT_EQ(collectiveBackendFor("cuda"), CollectiveBackend::nccl);
}

TEST(CommModelBackend, GlooPadsTwoByteGradientAllReduces) {
  ModelDescription model;
  TrainingLayout layout;
  layout.dp = 5;
  const std::int64_t params = totalParameters(model);
  ASSERT_NE(params % 5, 0) << "the case needs a parameter count 5 does not divide";

  layout.reduce_format = NumericFormat::bf16;
  EXPECT_EQ(stepBytes(model, layout, CollectiveBackend::nccl), allReduceBusBytes(2 * params, 5));
  EXPECT_EQ(stepBytes(model, layout, CollectiveBackend::gloo), paddedAllReduceBusBytes(params, 2, 5));
  EXPECT_GT(stepBytes(model, layout, CollectiveBackend::gloo), stepBytes(model, layout, CollectiveBackend::nccl));

  // fp32 is gloo's own all-reduce: no padding.
  layout.reduce_format = NumericFormat::fp32;
  EXPECT_EQ(stepBytes(model, layout, CollectiveBackend::gloo), allReduceBusBytes(4 * params, 5));
  EXPECT_EQ(stepBytes(model, layout, CollectiveBackend::nccl), allReduceBusBytes(4 * params, 5));

  // A group that divides the parameters: padding changes nothing.
  layout.reduce_format = NumericFormat::bf16;
  layout.dp = 2;
  ASSERT_EQ(params % 2, 0);
  EXPECT_EQ(stepBytes(model, layout, CollectiveBackend::gloo), allReduceBusBytes(2 * params, 2));
}

}  // namespace
}  // namespace behemoth
