// `behemoth env`: what this build and this machine offer (versions, devices, backends, capabilities).
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <torch/version.h>

#include <fstream>
#include <string>
#include <iostream>
#include <thread>

#include "backend/cli/commands.h"
#include "backend/engine_version.h"

namespace behemoth {

namespace {

std::string cpuModel() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

// The CPU's feature flags (/proc/cpuinfo "flags"), e.g. "avx512_bf16".
std::string cpuFlags() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) == 0) return " " + line.substr(line.find(':') + 1) + " ";
  }
  return " ";
}

bool hasFlag(const std::string& flags, const char* flag) { return flags.find(" " + std::string(flag) + " ") != std::string::npos; }

// The vector width the fused kernels (kernels/vector_math.h) were chosen for when the program loaded.
const char* fusedKernelVectors() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f")) return "avx512f";
  if (__builtin_cpu_supports("avx2")) return "avx2";
#endif
  return "baseline";
}

double memoryGiB() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  double kib = 0;
  meminfo >> key >> kib;
  return kib / (1024.0 * 1024.0);
}

nlohmann::json environmentReport() {
  nlohmann::json report;
  report["behemoth"] = kEngineVersion;
  report["libtorch"] = TORCH_VERSION;
  report["sqlite"] = sqlite3_libversion();
  report["compiler"] = __VERSION__;
  const std::string flags = cpuFlags();
  // bf16 runs everywhere (converted to float); these instructions make its matmuls and dot
  // products native: AVX-512 BF16 (vdpbf16ps) or AMX tiles.
  const bool bf16_instructions = hasFlag(flags, "avx512_bf16") || hasFlag(flags, "amx_bf16");
  report["cpu"] = {{"model", cpuModel()}, {"cores", std::thread::hardware_concurrency()},
                   {"memory_gib", memoryGiB()}, {"math_threads", at::get_num_threads()},
                   {"bf16_instructions", bf16_instructions},
                   {"avx512_bf16", hasFlag(flags, "avx512_bf16")}, {"amx_bf16", hasFlag(flags, "amx_bf16")},
                   {"fused_kernel_vectors", fusedKernelVectors()}};
  const bool cuda = at::hasCUDA();
  report["cuda"] = {{"available", cuda}, {"devices", cuda ? at::detail::getCUDAHooks().getNumGPUs() : 0}};
#ifdef BEHEMOTH_WITH_CUDA
  report["cuda"]["compiled"] = true;
#else
  report["cuda"]["compiled"] = false;
#endif
  report["backends"] = {{"gloo", true},
#ifdef USE_C10D_NCCL
                        {"nccl", true}
#else
                        {"nccl", false}
#endif
  };
  report["capabilities"] = {{"data_parallel", true},
                            {"precision", {"fp32", "bf16", "fp16"}},
                            {"zero_stages", {1, 2, 3}},
                            {"optimizer_offload", true},
                            {"cpu_adamw_kernel", true},
                            {"planner", true},
                            {"tensor_parallel", {"1d", "2d", "2.5d", "3d"}},
                            {"sequence_parallel", {"megatron", "ulysses", "ring"}},
                            {"kernels", {"fused", "aten"}},
                            {"fused_cpu_kernels", {"layer_norm+residual", "rms_norm+residual", "gelu_tanh+bias", "swiglu"}},
                            {"step_profile", true},
                            {"reduce_dtype", {"auto", "fp32", "bf16", "fp16"}},
                            {"optimizer_state_export", {"sharded", "full"}},
                            {"pipeline_parallel", true},
                            {"expert_parallel", false},
                            {"cuda_kernels", false}};
  return report;
}

}  // namespace

void addEnvCommand(CLI::App& app, std::function<int()>& action) {
  auto as_json = std::make_shared<bool>(false);
  CLI::App* command = app.add_subcommand("env", "Versions, devices, backends and compiled-in capabilities");
  command->add_flag("--json", *as_json, "Print JSON");
  command->callback([&action, as_json] {
    action = [as_json] {
      const nlohmann::json report = environmentReport();
      if (*as_json) {
        std::cout << report.dump(2) << "\n";
        return 0;
      }
      std::cout << "behemoth      " << report["behemoth"].get<std::string>() << "\n"
                << "libtorch      " << report["libtorch"].get<std::string>() << "\n"
                << "sqlite        " << report["sqlite"].get<std::string>() << "\n"
                << "compiler      gcc " << report["compiler"].get<std::string>() << "\n"
                << "cpu           " << report["cpu"]["model"].get<std::string>() << ", "
                << report["cpu"]["cores"] << " cores, " << report["cpu"]["memory_gib"].get<double>() << " GiB\n"
                << "bf16          " << (report["cpu"]["bf16_instructions"].get<bool>()
                                            ? "native instructions (AVX-512 BF16 or AMX): bf16 matmuls run faster than fp32"
                                            : "no bf16 instructions: bf16 is converted to float, no faster than fp32")
                << "\n"
                << "kernels       fused CPU kernels with " << report["cpu"]["fused_kernel_vectors"].get<std::string>()
                << " vectors\n"
                << "cuda          " << (report["cuda"]["compiled"].get<bool>() ? "compiled" : "not compiled") << ", "
                << (report["cuda"]["available"].get<bool>() ? "devices present" : "no device") << "\n"
                << "backends      gloo" << (report["backends"]["nccl"].get<bool>() ? ", nccl" : "") << "\n"
                << "capabilities  " << report["capabilities"].dump() << "\n";
      return 0;
    };
  });
}

}  // namespace behemoth
