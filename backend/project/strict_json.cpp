#include "backend/project/strict_json.h"

#include <fstream>
#include <iterator>
#include <set>
#include <stdexcept>
#include <vector>

#include "backend/project/json_fields.h"

namespace behemoth {
namespace {

using nlohmann::json;

// Where the parser is: one frame per open object or array, so an error can name its field.
struct Frame {
  bool is_object = true;
  std::string path;              // the path of this object or array itself
  std::set<std::string> keys;    // keys seen so far (objects)
  std::string current_key;       // the key whose value is being parsed (objects)
  std::size_t next_index = 0;    // index of the next element (arrays)
};

class PathTracker {
 public:
  // The path of the value about to be parsed at the innermost level.
  std::string valuePath() const {
    if (frames_.empty()) return "";
    const Frame& top = frames_.back();
    if (top.is_object) return joinJsonPath(top.path, top.current_key);
    return top.path + "[" + std::to_string(top.next_index) + "]";
  }

  void open(bool is_object) {
    Frame frame;
    frame.is_object = is_object;
    frame.path = valuePath();
    frames_.push_back(std::move(frame));
  }

  void close() {
    frames_.pop_back();
    valueDone();
  }

  void key(const std::string& name) {
    Frame& top = frames_.back();
    if (!top.keys.insert(name).second) {
      throw std::invalid_argument(joinJsonPath(top.path, name) + ": key given twice in one object (remove one)");
    }
    top.current_key = name;
  }

  void valueDone() {
    if (!frames_.empty() && !frames_.back().is_object) ++frames_.back().next_index;
  }

 private:
  std::vector<Frame> frames_;
};

}  // namespace

json parseStrictJson(const std::string& text, const std::string& source) {
  PathTracker tracker;
  const json::parser_callback_t callback = [&tracker](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: tracker.open(true); break;
      case json::parse_event_t::array_start: tracker.open(false); break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end: tracker.close(); break;
      case json::parse_event_t::key: tracker.key(parsed.get<std::string>()); break;
      case json::parse_event_t::value: tracker.valueDone(); break;
    }
    return true;
  };
  try {
    return json::parse(text, callback);
  } catch (const json::out_of_range& error) {
    // The library's only range error while parsing: a number that does not fit a double.
    const std::string path = tracker.valuePath();
    throw std::invalid_argument((path.empty() ? source : path) +
                                ": number out of range (it must fit a 64-bit floating-point value)");
  } catch (const json::parse_error& error) {
    std::string reason = error.what();
    // "[json.exception.parse_error.101] parse error at line 3, column 5: ..." -> from "parse error".
    const std::size_t start = reason.find("parse error");
    if (start != std::string::npos) reason = reason.substr(start);
    throw std::invalid_argument(source + ": invalid JSON: " + reason);
  }
}

json readStrictJsonFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument(path + ": cannot be read");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) throw std::invalid_argument(path + ": cannot be read");
  return parseStrictJson(text, path);
}

}  // namespace behemoth
