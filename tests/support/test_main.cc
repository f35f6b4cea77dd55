// Test entry point: one math thread per process, as every rank of a real job has, so forked ranks
// never inherit a running OpenMP pool.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  at::set_num_threads(1);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
