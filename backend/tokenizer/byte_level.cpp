#include "backend/tokenizer/byte_level.h"

#include <array>
#include <unordered_map>

#include "backend/tokenizer/unicode_class.h"

namespace behemoth {

namespace {

bool printable(int byte) { return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE); }

std::string utf8(char32_t c) {
  std::string out;
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else {  // the alphabet stays below U+0800
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
  return out;
}

struct Alphabet {
  std::array<std::string, 256> of_byte;
  std::unordered_map<char32_t, char> byte_of;
  Alphabet() {
    char32_t next = 256;
    for (int byte = 0; byte < 256; ++byte) {
      const char32_t c = printable(byte) ? static_cast<char32_t>(byte) : next++;
      of_byte[byte] = utf8(c);
      byte_of[c] = static_cast<char>(byte);
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet instance;
  return instance;
}

}  // namespace

std::string toByteLevel(std::string_view bytes) {
  const Alphabet& a = alphabet();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char b : bytes) out += a.of_byte[static_cast<unsigned char>(b)];
  return out;
}

std::optional<std::string> fromByteLevel(std::string_view text) {
  const Alphabet& a = alphabet();
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const CodePoint c = codePointAt(text, i);
    const auto found = a.byte_of.find(c.value);
    if (found == a.byte_of.end() || (c.bytes == 1 && static_cast<unsigned char>(text[i]) >= 0x80)) return std::nullopt;
    out.push_back(found->second);
    i += c.bytes;
  }
  return out;
}

}  // namespace behemoth
