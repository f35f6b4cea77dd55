#include "backend/project/json_fields.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace behemoth {
namespace {

constexpr std::size_t kMaxShownValueChars = 40;

bool isIntegral(const nlohmann::json& value) {
  if (value.is_number_integer()) return true;
  // 2.0 written by a script is still an integer to a user.
  if (value.is_number_float()) {
    const double number = value.get<double>();
    return std::isfinite(number) && std::floor(number) == number;
  }
  return false;
}

[[noreturn]] void typeError(const std::string& path, const char* expected, const nlohmann::json& value) {
  throw std::invalid_argument(path + ": expected " + expected + ", got " + describeJsonValue(value));
}

}  // namespace

std::string describeJsonValue(const nlohmann::json& value) {
  std::string shown = value.dump();
  if (shown.size() > kMaxShownValueChars) shown = shown.substr(0, kMaxShownValueChars) + "...";
  return std::string(value.type_name()) + " " + shown;
}

std::string joinJsonPath(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

JsonFields::JsonFields(const nlohmann::json& object, std::string path, std::initializer_list<const char*> known_keys)
    : object_(object), path_(std::move(path)) {
  if (!object_.is_object()) {
    throw std::invalid_argument((path_.empty() ? std::string("project") : path_) + ": expected an object, got " +
                                describeJsonValue(object_));
  }
  for (const auto& item : object_.items()) {
    bool known = false;
    for (const char* key : known_keys) known = known || item.key() == key;
    if (known) continue;
    std::string expected;
    for (const char* key : known_keys) expected += (expected.empty() ? "" : ", ") + std::string(key);
    throw std::invalid_argument(joinJsonPath(path_, item.key()) + ": unknown key (expected one of " + expected + ")");
  }
}

bool JsonFields::has(const char* key) const { return object_.contains(key); }

void JsonFields::read(const char* key, int& out) const {
  if (!has(key)) return;
  const nlohmann::json& value = object_.at(key);
  if (!isIntegral(value)) typeError(pathOf(key), "an integer", value);
  const double number = value.get<double>();
  if (number < std::numeric_limits<int>::min() || number > std::numeric_limits<int>::max()) {
    fail(key, "integer out of range, got " + value.dump());
  }
  out = value.is_number_float() ? static_cast<int>(number) : value.get<int>();
}

void JsonFields::read(const char* key, std::uint64_t& out) const {
  if (!has(key)) return;
  const nlohmann::json& value = object_.at(key);
  if (!isIntegral(value)) typeError(pathOf(key), "a non-negative integer", value);
  if (value.is_number_unsigned()) {
    out = value.get<std::uint64_t>();
  } else if (value.is_number_integer()) {
    if (value.get<std::int64_t>() < 0) fail(key, "must be >= 0, got " + value.dump());
    out = static_cast<std::uint64_t>(value.get<std::int64_t>());
  } else {
    const double number = value.get<double>();
    if (number < 0 || number >= 18446744073709551616.0) fail(key, "must be a 64-bit non-negative integer, got " + value.dump());
    out = static_cast<std::uint64_t>(number);
  }
}

void JsonFields::read(const char* key, double& out) const {
  if (!has(key)) return;
  const nlohmann::json& value = object_.at(key);
  if (!value.is_number()) typeError(pathOf(key), "a number", value);
  out = value.get<double>();
}

void JsonFields::read(const char* key, bool& out) const {
  if (!has(key)) return;
  const nlohmann::json& value = object_.at(key);
  if (!value.is_boolean()) typeError(pathOf(key), "true or false", value);
  out = value.get<bool>();
}

void JsonFields::read(const char* key, std::string& out) const {
  if (!has(key)) return;
  const nlohmann::json& value = object_.at(key);
  if (!value.is_string()) typeError(pathOf(key), "a string", value);
  out = value.get<std::string>();
}

void JsonFields::fail(const char* key, const std::string& requirement) const {
  throw std::invalid_argument(pathOf(key) + ": " + requirement);
}

}  // namespace behemoth
