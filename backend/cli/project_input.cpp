#include "backend/cli/project_input.h"

#include "backend/checkpoint/durable_files.h"
#include "backend/data/corpus_checks.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <unistd.h>

namespace behemoth {

Project parseProject(const std::string& path, const std::vector<std::string>& overrides) {
  nlohmann::json json;
  try {
    json = readProjectJson(path);  // syntax errors name the file, duplicate keys and overflows the field
    for (const auto& assignment : overrides) applyOverride(json, assignment);
  } catch (const std::invalid_argument& error) {
    const std::string message = error.what();
    throw std::invalid_argument(message.rfind(path, 0) == 0 ? message : path + ": " + message);
  }
  const std::string base_dir = std::filesystem::absolute(path).parent_path().string();
  try {
    return projectFromJson(json, base_dir);
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(path + ": " + error.what());
  }
}

Project validatedProject(Project project, const std::string& path, int world_size, CorpusCheck corpus_check) {
  try {
    validateForWorld(project, world_size);
    // What a worker would otherwise find mid-run: the tokenizer and the corpus against the
    // vocabulary, seq_len and the held-out batches. A real tokenizer's cache is written here,
    // once, with the progress bar, so the workers find it.
    if (corpus_check == CorpusCheck::read_and_check) checkDataForProject(project);
    return project;
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(path + ": " + error.what());
  }
}

Project readProject(const std::string& path, const std::vector<std::string>& overrides, int world_size,
                    CorpusCheck corpus_check) {
  return validatedProject(parseProject(path, overrides), path, world_size, corpus_check);
}

void writeFileAtomically(const std::string& path, const std::string& text) { writeFileDurably(path, text); }

}  // namespace behemoth
