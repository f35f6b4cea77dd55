// Reading the project a command was given: the file, then every --set override, then validation.
#pragma once

#include <string>
#include <vector>

#include "backend/project/project.h"

namespace behemoth {

// Loads PATH, applies `overrides` ("key=value"), parses and validates for `world_size` ranks.
// Throws std::invalid_argument naming the file and the field.
Project readProject(const std::string& path, const std::vector<std::string>& overrides, int world_size);

// Writes text to `path` atomically (temporary file in the same folder, then rename).
void writeFileAtomically(const std::string& path, const std::string& text);

}  // namespace behemoth
