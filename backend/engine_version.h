// The engine's version: `behemoth env` prints it and every checkpoint records it.
#pragma once

namespace behemoth {

inline constexpr const char* kEngineVersion = "0.2.0";

}  // namespace behemoth
