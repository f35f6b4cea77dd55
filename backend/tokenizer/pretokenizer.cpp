#include "backend/tokenizer/pretokenizer.h"

#include "backend/tokenizer/unicode_class.h"

namespace behemoth {

namespace {

constexpr const char* kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

using Class = CodePointClass;

// Scans one text; every match function takes the piece's start and returns its end (0 for "no match").
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  std::size_t size() const { return text_.size(); }
  CodePoint at(std::size_t offset) const { return codePointAt(text_, offset); }
  bool isNewline(std::size_t offset) const { return text_[offset] == '\r' || text_[offset] == '\n'; }

  // End of the longest run of `cls` starting at `offset` (at most `limit` code points).
  std::size_t runOf(Class cls, std::size_t offset, std::size_t limit = SIZE_MAX) const {
    for (std::size_t count = 0; offset < size() && count < limit; ++count) {
      const CodePoint c = at(offset);
      if (c.cls != cls) break;
      offset += c.bytes;
    }
    return offset;
  }

  // 's 't 're 've 'm 'll 'd (ASCII case folded when `any_case`).
  std::size_t contraction(std::size_t offset, bool any_case) const {
    if (text_[offset] != '\'') return 0;
    const auto letter = [&](std::size_t i) -> char {
      if (i >= size()) return 0;
      const char c = text_[i];
      return any_case && c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    };
    const char first = letter(offset + 1);
    if (first == 's' || first == 't' || first == 'm' || first == 'd') return offset + 2;
    const char second = letter(offset + 2);
    if ((first == 'r' && second == 'e') || (first == 'v' && second == 'e') || (first == 'l' && second == 'l')) {
      return offset + 3;
    }
    return 0;
  }

  // \s+(?!\S)|\s+ : a run of white space, less its last code point when a non-space follows it
  // (that one goes with the next word), unless the run is a single code point.
  std::size_t whitespace(std::size_t offset) const {
    std::size_t end = offset;
    std::size_t last_start = offset;
    while (end < size()) {
      const CodePoint c = at(end);
      if (c.cls != Class::kSpace) break;
      last_start = end;
      end += c.bytes;
    }
    if (end == size() || last_start == offset) return end;
    return last_start;
  }

 private:
  std::string_view text_;
};

std::size_t matchGpt2(const Scanner& s, std::size_t offset) {
  if (const std::size_t end = s.contraction(offset, /*any_case=*/false)) return end;
  const CodePoint c = s.at(offset);
  if (c.value == U' ' && offset + 1 < s.size()) {
    const Class next = s.at(offset + 1).cls;
    if (next != Class::kSpace) return s.runOf(next, offset + 1);
  }
  if (c.cls != Class::kSpace) return s.runOf(c.cls, offset);
  return s.whitespace(offset);
}

std::size_t matchLlama3(const Scanner& s, std::size_t offset) {
  if (const std::size_t end = s.contraction(offset, /*any_case=*/true)) return end;
  const CodePoint c = s.at(offset);
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (c.cls == Class::kLetter) return s.runOf(Class::kLetter, offset);
  if (!s.isNewline(offset) && c.cls != Class::kNumber && offset + c.bytes < s.size() &&
      s.at(offset + c.bytes).cls == Class::kLetter) {
    return s.runOf(Class::kLetter, offset + c.bytes);
  }
  // \p{N}{1,3}
  if (c.cls == Class::kNumber) return s.runOf(Class::kNumber, offset, 3);
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  std::size_t start = offset;
  if (c.value == U' ' && offset + 1 < s.size() && s.at(offset + 1).cls == Class::kOther) start = offset + 1;
  if (s.at(start).cls == Class::kOther) {
    std::size_t end = s.runOf(Class::kOther, start);
    while (end < s.size() && s.isNewline(end)) ++end;
    return end;
  }
  // \s*[\r\n]+ : white space up to and including its last line break.
  std::size_t last_newline_end = 0;
  for (std::size_t i = offset; i < s.size();) {
    const CodePoint w = s.at(i);
    if (w.cls != Class::kSpace) break;
    if (s.isNewline(i)) last_newline_end = i + 1;
    i += w.bytes;
  }
  if (last_newline_end != 0) return last_newline_end;
  return s.whitespace(offset);
}

}  // namespace

std::optional<PretokenizerPattern> pretokenizerPatternFor(const std::string& regex) {
  if (regex == kGpt2Regex) return PretokenizerPattern::kGpt2;
  if (regex == kLlama3Regex) return PretokenizerPattern::kLlama3;
  return std::nullopt;
}

std::string pretokenizerRegex(PretokenizerPattern pattern) {
  return pattern == PretokenizerPattern::kGpt2 ? kGpt2Regex : kLlama3Regex;
}

void pretokenize(std::string_view text, PretokenizerPattern pattern,
                 const std::function<void(std::string_view)>& piece) {
  const Scanner scanner(text);
  const auto match = pattern == PretokenizerPattern::kGpt2 ? matchGpt2 : matchLlama3;
  for (std::size_t offset = 0; offset < text.size();) {
    const std::size_t end = match(scanner, offset);
    piece(text.substr(offset, end - offset));
    offset = end;
  }
}

}  // namespace behemoth
