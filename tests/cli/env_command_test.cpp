// `behemoth env`: whether this CPU has bf16 instructions (read here from /proc/cpuinfo on its own),
// the vectors the fused kernels run with, and the kernels a project may choose.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <string>
#include <sstream>

#include "tests/support/command.h"

namespace behemoth {
namespace {

std::set<std::string> cpuinfoFlags() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::set<std::string> flags;
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    for (std::string word; words >> word;) flags.insert(word);
    break;
  }
  return flags;
}

TEST(EnvCommand, SaysWhetherTheCpuHasBf16InstructionsAndWhichKernelsRun) {
  const CommandResult result = runBehemoth({"env", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto report = nlohmann::json::parse(result.stdout_text);
  const auto flags = cpuinfoFlags();
  const bool bf16 = flags.count("avx512_bf16") > 0 || flags.count("amx_bf16") > 0;
  EXPECT_EQ(report.at("cpu").at("bf16_instructions").get<bool>(), bf16);
  const std::string vectors = report.at("cpu").at("fused_kernel_vectors").get<std::string>();
  EXPECT_EQ(vectors, flags.count("avx512f") ? "avx512f" : (flags.count("avx2") ? "avx2" : "baseline"));
  EXPECT_EQ(report.at("capabilities").at("kernels"), nlohmann::json({"fused", "aten"}));

  const CommandResult text = runBehemoth({"env"});
  ASSERT_EQ(text.exit_code, 0) << text.stderr_text;
  EXPECT_NE(text.stdout_text.find(bf16 ? "bf16          native instructions" : "bf16          no bf16 instructions"),
            std::string::npos)
      << text.stdout_text;
}

}  // namespace
}  // namespace behemoth
