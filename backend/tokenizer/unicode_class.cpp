#include "backend/tokenizer/unicode_class.h"

#include <algorithm>
#include <array>
#include <iterator>

namespace behemoth {

namespace {

struct CodePointRange {
  char32_t first;
  char32_t last;
  CodePointClass cls;
};

constexpr CodePointRange kRanges[] = {
#include "backend/tokenizer/unicode_class_table.inc"
};

// ASCII dominates real text: a direct table keeps the binary search off the hot path.
std::array<CodePointClass, 128> asciiClasses() {
  std::array<CodePointClass, 128> table{};
  for (const CodePointRange& range : kRanges) {
    for (char32_t c = range.first; c <= range.last && c < 128; ++c) table[c] = range.cls;
  }
  return table;
}

const std::array<CodePointClass, 128> kAscii = asciiClasses();

}  // namespace

CodePointClass classOf(char32_t code_point) {
  if (code_point < 128) return kAscii[code_point];
  const auto after = std::upper_bound(std::begin(kRanges), std::end(kRanges), code_point,
                                      [](char32_t c, const CodePointRange& range) { return c < range.first; });
  if (after == std::begin(kRanges)) return CodePointClass::kOther;
  const CodePointRange& range = *std::prev(after);
  return code_point <= range.last ? range.cls : CodePointClass::kOther;
}

CodePoint codePointAt(std::string_view text, std::size_t offset) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(offset);
  if (lead < 0x80) return {lead, 1, kAscii[lead]};
  std::size_t length = 0;
  char32_t value = 0;
  char32_t smallest = 0;  // overlong encodings are invalid
  if ((lead & 0xE0) == 0xC0) {
    length = 2, value = lead & 0x1F, smallest = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, value = lead & 0x0F, smallest = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, value = lead & 0x07, smallest = 0x10000;
  } else {
    return {lead, 1, CodePointClass::kOther};
  }
  if (offset + length > text.size()) return {lead, 1, CodePointClass::kOther};
  for (std::size_t i = 1; i < length; ++i) {
    const unsigned char next = byte(offset + i);
    if ((next & 0xC0) != 0x80) return {lead, 1, CodePointClass::kOther};
    value = (value << 6) | (next & 0x3F);
  }
  if (value < smallest || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    return {lead, 1, CodePointClass::kOther};
  }
  return {value, length, classOf(value)};
}

}  // namespace behemoth
