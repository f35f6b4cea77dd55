// Strict, path-aware reading of JSON objects: every error names the field ("model.n_layer: ...").
// Used by the project parser; kept separate so the parser reads as a list of fields.
#pragma once

#include <nlohmann/json.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace behemoth {

// "string \"2\"", "number 2.5", "array [1,2]": how a value is named in a type error.
std::string describeJsonValue(const nlohmann::json& value);

// "model" + "n_layer" -> "model.n_layer"; "" + "name" -> "name".
std::string joinJsonPath(const std::string& parent, const std::string& key);

// A view of one JSON object at `path` that rejects unknown keys up front and reads typed fields.
// Absent keys leave the output untouched, so callers pre-fill defaults.
class JsonFields {
 public:
  JsonFields(const nlohmann::json& object, std::string path, std::initializer_list<const char*> known_keys);

  bool has(const char* key) const;
  const nlohmann::json& at(const char* key) const { return object_.at(key); }
  std::string pathOf(const char* key) const { return joinJsonPath(path_, key); }

  void read(const char* key, int& out) const;
  void read(const char* key, std::uint64_t& out) const;
  void read(const char* key, double& out) const;
  void read(const char* key, bool& out) const;
  void read(const char* key, std::string& out) const;

  // Throws "<path.key>: <requirement>" -- for range checks after reading.
  [[noreturn]] void fail(const char* key, const std::string& requirement) const;

 private:
  const nlohmann::json& object_;
  std::string path_;
};

}  // namespace behemoth
