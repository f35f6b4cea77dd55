// Helpers shared by the project tests: a scratch folder and a minimal valid project document.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace behemoth::testing {

// A fresh folder under /tmp, removed with everything in it when the object goes away.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "behemoth-test-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string full = file(name);
    std::filesystem::create_directories(std::filesystem::path(full).parent_path());
    std::ofstream(full) << text;
    return full;
  }

 private:
  std::filesystem::path path_;
};

inline nlohmann::json minimalProject() {
  return nlohmann::json::parse(R"({"model": {"arch": "gpt", "n_layer": 2, "n_head": 4, "d_model": 64,
                                             "seq_len": 64, "vocab_size": 256}})");
}

// The message of the std::invalid_argument `action` throws; fails the test when it throws nothing.
template <typename Action>
std::string invalidArgumentMessage(Action&& action) {
  try {
    action();
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected std::invalid_argument";
  return "";
}

}  // namespace behemoth::testing
