#include "backend/data/jsonl_corpus.h"

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string_view>

namespace behemoth {
namespace {

bool isBlank(std::string_view line) { return line.find_first_not_of(" \t\r") == std::string_view::npos; }

[[noreturn]] void failAt(const std::string& path, std::int64_t line, const std::string& what) {
  throw std::invalid_argument("data.corpus: " + path + ":" + std::to_string(line) + ": " + what);
}

}  // namespace

bool isJsonlFile(const std::string& path) {
  constexpr std::string_view kSuffix = ".jsonl";
  return path.size() >= kSuffix.size() && path.compare(path.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

void appendJsonlDocuments(const std::string& path, const std::string& content, Corpus& corpus) {
  std::int64_t number = 0;
  for (std::size_t begin = 0; begin < content.size();) {
    const std::size_t newline = content.find('\n', begin);
    const std::size_t end = newline == std::string::npos ? content.size() : newline;
    const std::string_view line(content.data() + begin, end - begin);
    begin = end + 1;
    ++number;
    if (isBlank(line)) continue;
    const nlohmann::json document = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (document.is_discarded()) failAt(path, number, "not valid JSON (each line must be one object with a \"text\" field)");
    if (!document.is_object()) failAt(path, number, "expected a JSON object with a \"text\" field, got " + std::string(document.type_name()));
    const auto text = document.find("text");
    if (text == document.end()) failAt(path, number, "the object has no \"text\" field");
    if (!text->is_string()) failAt(path, number, "\"text\" must be a string, got " + std::string(text->type_name()));
    corpus.documentStarts.push_back(corpus.size());
    corpus.bytes += text->get_ref<const std::string&>();
    corpus.bytes += '\n';
  }
}

}  // namespace behemoth
