// The three Unicode classes the byte-level BPE pre-tokenizers split on (\p{L}, \p{N}, \s), and a
// UTF-8 reader that never fails: a byte that does not start a valid sequence reads as one code
// point of class kOther, so any bytes can be pre-tokenized and every byte stays in some piece.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace behemoth {

enum class CodePointClass : std::uint8_t { kOther, kLetter, kNumber, kSpace };

CodePointClass classOf(char32_t code_point);

struct CodePoint {
  char32_t value = 0;
  std::size_t bytes = 1;  // its length in the UTF-8 text
  CodePointClass cls = CodePointClass::kOther;
};

// The code point starting at `offset` (< text.size()).
CodePoint codePointAt(std::string_view text, std::size_t offset);

}  // namespace behemoth
