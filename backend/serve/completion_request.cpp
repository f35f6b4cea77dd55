#include "backend/serve/completion_request.h"

#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>

#include "backend/project/strict_json.h"

namespace behemoth {

namespace {

using nlohmann::json;

std::string shortened(const std::string& text) { return text.size() > 40 ? text.substr(0, 40) + "..." : text; }

std::int64_t integerField(const json& value, const char* name, std::int64_t minimum, std::int64_t maximum) {
  // The JSON parser reads an integer literal beyond 64 bits as a float: it is still an integer.
  if (value.is_number_float() && std::fabs(value.get<double>()) >= 9.2e18 && std::trunc(value.get<double>()) == value.get<double>()) {
    throw std::invalid_argument(std::string(name) + ": " + shortened(value.dump()) + " is too large");
  }
  if (!value.is_number_integer()) throw std::invalid_argument(std::string(name) + ": must be an integer, got " + shortened(value.dump()));
  // Read as the widest signed type the parser holds, so a huge number is refused rather than wrapped.
  const bool is_unsigned = value.is_number_unsigned();
  const std::int64_t number =
      is_unsigned && value.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
          ? std::numeric_limits<std::int64_t>::max()
          : value.get<std::int64_t>();
  if (number < minimum) throw std::invalid_argument(std::string(name) + ": " + shortened(value.dump()) + " is below " + std::to_string(minimum));
  if (number > maximum) throw std::invalid_argument(std::string(name) + ": " + shortened(value.dump()) + " is too large");
  return number;
}

double numberField(const json& value, const char* name) {
  if (!value.is_number()) throw std::invalid_argument(std::string(name) + ": must be a number, got " + shortened(value.dump()));
  const double number = value.get<double>();
  if (!std::isfinite(number)) throw std::invalid_argument(std::string(name) + ": must be finite");
  return number;
}

}  // namespace

CompletionRequest parseCompletionRequest(const std::string& body) {
  json document;
  try {
    document = parseStrictJson(body, "request body");
  } catch (const std::invalid_argument& error) {
    // Syntax errors say so; a key given twice or a number out of range names its field.
    const std::string message = error.what();
    const std::string syntax = "request body: invalid JSON: ";
    if (message.rfind(syntax, 0) == 0) throw std::invalid_argument("malformed JSON: " + message.substr(syntax.size()));
    throw;
  }
  if (!document.is_object()) throw std::invalid_argument("request body: must be a JSON object");
  static const std::set<std::string> known{"prompt", "max_tokens", "temperature", "top_k", "top_p",
                                           "seed",   "stop",       "stream",      "model"};
  for (const auto& item : document.items()) {
    if (!known.count(item.key())) throw std::invalid_argument(shortened(item.key()) + ": unknown field");
  }
  CompletionRequest request;
  if (!document.contains("prompt")) throw std::invalid_argument("prompt: required");
  if (!document["prompt"].is_string()) throw std::invalid_argument("prompt: must be a string");
  request.prompt = document["prompt"].get<std::string>();
  if (document.contains("max_tokens")) {
    request.max_tokens = static_cast<int>(integerField(document["max_tokens"], "max_tokens", 1, std::numeric_limits<int>::max()));
  }
  if (document.contains("temperature")) {
    request.sampling.temperature = numberField(document["temperature"], "temperature");
    if (request.sampling.temperature < 0.0) throw std::invalid_argument("temperature: must not be negative");
  }
  if (document.contains("top_k")) {
    request.sampling.top_k = static_cast<int>(integerField(document["top_k"], "top_k", 0, std::numeric_limits<int>::max()));
  }
  if (document.contains("top_p")) {
    request.sampling.top_p = numberField(document["top_p"], "top_p");
    if (!(request.sampling.top_p > 0.0 && request.sampling.top_p <= 1.0)) throw std::invalid_argument("top_p: must be in (0, 1]");
  }
  if (document.contains("seed")) {
    request.sampling.seed = static_cast<std::uint64_t>(
        integerField(document["seed"], "seed", std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()));
  }
  if (document.contains("stop")) {
    const json& stop = document["stop"];
    if (stop.is_string()) {
      request.stop.push_back(stop.get<std::string>());
    } else if (stop.is_array() && stop.size() <= 4) {
      for (const json& item : stop) {
        if (!item.is_string()) throw std::invalid_argument("stop: every entry must be a string");
        request.stop.push_back(item.get<std::string>());
      }
    } else if (!stop.is_null()) {
      throw std::invalid_argument("stop: must be a string or a list of at most 4 strings");
    }
  }
  if (document.contains("stream")) {
    if (!document["stream"].is_boolean()) throw std::invalid_argument("stream: must be true or false");
    request.stream = document["stream"].get<bool>();
  }
  if (document.contains("model") && !document["model"].is_string()) throw std::invalid_argument("model: must be a string");
  return request;
}

}  // namespace behemoth
