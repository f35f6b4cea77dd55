// GPT-2's byte-level alphabet: each of the 256 byte values is written as one printable code point
// (the printable Latin-1 bytes as themselves, the others as U+0100 onwards in byte order), so a
// byte-level BPE vocabulary is a set of strings over those 256 characters.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace behemoth {

// The UTF-8 text of `bytes` in the byte-level alphabet.
std::string toByteLevel(std::string_view bytes);
// The bytes a byte-level string stands for; nullopt if it holds a character outside the alphabet.
std::optional<std::string> fromByteLevel(std::string_view text);

}  // namespace behemoth
