#include "backend/tokenizer/spm_module.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace behemoth {

namespace {

namespace fs = std::filesystem;

constexpr const char* kModuleName = "libbehemoth_spm.so";

std::vector<fs::path> candidates() {
  if (const char* explicit_path = std::getenv("BEHEMOTH_SPM_MODULE");
      explicit_path != nullptr && *explicit_path != '\0') {
    return {explicit_path};  // an explicit choice is the only place looked
  }
  std::vector<fs::path> paths;
  std::error_code error;
  const fs::path executable = fs::read_symlink("/proc/self/exe", error);
  if (!error) paths.push_back(executable.parent_path() / kModuleName);
  paths.push_back(fs::current_path(error) / "build" / "bin" / kModuleName);
  return paths;
}

const BehemothSpmApi& load() {
  std::string looked;
  for (const fs::path& path : candidates()) {
    looked += (looked.empty() ? "" : ", ") + path.string();
    if (!fs::is_regular_file(path)) continue;
    // LM_ID_NEWLM: SentencePiece's protobuf must not meet LibTorch's. Never closed: the module
    // lives as long as the process.
    void* handle = dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr)
      throw std::runtime_error(std::string("the SentencePiece module could not be loaded: ") + dlerror());
    const auto entry = reinterpret_cast<BehemothSpmApiEntry>(dlsym(handle, "behemoth_spm_api"));
    if (entry == nullptr)
      throw std::runtime_error(path.string() + " is not the SentencePiece module (no behemoth_spm_api)");
    const BehemothSpmApi* api = entry();
    if (api == nullptr || api->abi_version != kBehemothSpmAbiVersion) {
      throw std::runtime_error(path.string() + " is a SentencePiece module of another version; rebuild it");
    }
    return *api;
  }
  throw std::runtime_error(std::string("the SentencePiece module ") + kModuleName + " was not found (looked at " +
                           looked + "; build the behemoth_spm target or set BEHEMOTH_SPM_MODULE)");
}

}  // namespace

const BehemothSpmApi& sentencePieceModule() {
  static const BehemothSpmApi& api = load();  // a failed load throws and is retried next call
  return api;
}

}  // namespace behemoth
