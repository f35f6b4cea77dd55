#include "backend/cli/project_input.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <unistd.h>

namespace behemoth {

Project readProject(const std::string& path, const std::vector<std::string>& overrides, int world_size) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(path + ": cannot open the project file");
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& error) {
    throw std::invalid_argument(path + ": not valid JSON: " + error.what());
  }
  for (const auto& assignment : overrides) applyOverride(json, assignment);
  const std::string base_dir = std::filesystem::absolute(path).parent_path().string();
  try {
    Project project = projectFromJson(json, base_dir);
    validateForWorld(project, world_size);
    return project;
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(path + ": " + error.what());
  }
}

void writeFileAtomically(const std::string& path, const std::string& text) {
  const std::filesystem::path target(path);
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path());
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + temporary);
  }
  std::filesystem::rename(temporary, target);
}

}  // namespace behemoth
