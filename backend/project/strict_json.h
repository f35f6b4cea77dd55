// JSON reading that refuses what nlohmann::json would accept silently or report without a field:
// a key given twice in one object (the library keeps the last) and a number out of range
// ("1e999"). Both errors name the JSON path ("optimizer.lr: ...").
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace behemoth {

// Parses `text`. Throws std::invalid_argument: "<path>: <problem>" for duplicate keys and numbers
// out of range, "<source>: invalid JSON: <reason>" for syntax errors (with the line and column).
nlohmann::json parseStrictJson(const std::string& text, const std::string& source);

// Reads and parses a file; a file that cannot be read is "<path>: cannot be read".
nlohmann::json readStrictJsonFile(const std::string& path);

}  // namespace behemoth
