// The path of the running program, so the launcher can start more copies of itself as workers.
#pragma once

#include <string>

namespace behemoth {

// Resolves /proc/self/exe (Linux). Throws std::runtime_error when it cannot be read.
std::string selfExecutablePath();

}  // namespace behemoth
